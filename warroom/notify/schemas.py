"""Request and response bodies of contact methods: the ways a person is reached."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from warroom.common.schemas import NONBLANK, In, Out, Patch
from warroom.notify.channels import CHANNELS

if TYPE_CHECKING:
    ChannelName = str
else:
    # The registry's names as an enum in the OpenAPI document and in validation errors.
    ChannelName = Literal[tuple(CHANNELS)]


class ContactMethodIn(In):
    model_config = {
        "json_schema_extra": {
            "examples": [{"channel": "email", "address": "ada@example.com", "label": "work"}]
        }
    }
    channel: ChannelName
    address: str = Field(
        min_length=1,
        max_length=2000,
        pattern=NONBLANK,
        description="email address, http(s) URL, Apprise URL, E.164 phone number, or any "
        "label for local",
    )
    label: str = Field(default="", max_length=120)


class ContactMethodPatch(Patch):
    address: str | None = Field(default=None, min_length=1, max_length=2000, pattern=NONBLANK)
    label: str | None = Field(default=None, max_length=120)
    disabled: bool | None = None


class ContactMethodOut(Out):
    id: int
    user_id: int
    channel: str
    label: str
    address: str | None = Field(description="Shown to its owner and admins only")
    disabled: bool
    created_at: datetime


class NewContactMethod(ContactMethodOut):
    secret: str | None = Field(
        description="Webhooks: the signing secret, shown once; receivers verify with it"
    )
