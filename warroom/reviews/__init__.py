"""Post-incident reviews drafted from the record, action items tracked to done, feedback."""
