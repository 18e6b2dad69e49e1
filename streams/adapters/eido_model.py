"""The part of a NENA EIDO (NENA-STA-021) document that callwatch reads, as typed structs.

Decoding into these structs is the validation: each component the adapter
uses must carry the fields NENA-STA-021's schema marks required (the prologue
``$id`` / ``lastUpdateTimeStamp`` / ``updatedByAgencyReference`` on every
component, and each component's own required fields), with RFC 3339
timestamps that carry an offset. Fields callwatch does not use are ignored,
so extensions and the NIEM detail do not break conversion. We cannot ship the
official OpenAPI document (NENA publishes it without a licence, and it has
defects off-the-shelf validators trip over), so the required-ness here is
copied from it by hand for the components below.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, field

Stamp = Annotated[datetime, Meta(tz=True)]


class Reference(msgspec.Struct, frozen=True):
    ref: str = field(name="$ref")


class _Prologue(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: str = field(name="$id")
    last_update_time_stamp: Stamp
    updated_by_agency_reference: Reference


class Agency(_Prologue, frozen=True, kw_only=True, rename="camel"):
    agency_role_description_registry_text: list[str]
    agency_type: list[str]  # IANA urn:emergency:service:responder codes, e.g. police.federal.ice
    agency_jcard: str | None = None
    incident_owning_agency_indicator: bool | None = None


class Agent(_Prologue, frozen=True, kw_only=True, rename="camel"):
    agent_role_registry_text: list[str]
    agency_reference: Reference
    agent_jcard: str | None = None


class Call(_Prologue, frozen=True, kw_only=True, rename="camel"):
    call_state_registry_text: str
    standard_primary_call_type: str
    direction: Literal["incoming", "outgoing", "internal"]
    call_start_timestamp: Stamp
    answer_date: Stamp | None = None
    local_call_type: str | None = None
    standard_secondary_call_type: str | None = None
    priority_identifier: str | None = None
    queue_identifier: str | None = None
    call_back_reference: Reference | None = None
    agency_reference: list[Reference] = []
    person_reference: list[Reference] = []
    location_reference: list[Reference] = []
    notes_reference: list[Reference] = []
    additional_data_reference: list[Reference] = []


class UpdatedCallback(_Prologue, frozen=True, kw_only=True, rename="camel"):
    updated_cbn_identifier_uri: str


class Callback(_Prologue, frozen=True, kw_only=True, rename="camel"):
    call_back_information_uri: list[str] = []
    updated_cbn: UpdatedCallback | None = None


class NiemText(msgspec.Struct, frozen=True):
    value: str | None = None


class NiemPersonName(msgspec.Struct, frozen=True, rename="camel"):
    person_full_name: list[NiemText] = []
    person_given_name: list[NiemText] = []
    person_sur_name: list[NiemText] = []


class NiemPerson(msgspec.Struct, frozen=True, rename="camel"):
    name: list[NiemPersonName] = []


class Person(_Prologue, frozen=True, kw_only=True, rename="camel"):
    person_incident_role_registry_text: list[str]
    nc_person_component: NiemPerson | None = None
    call_back_reference: Reference | None = None


class Location(_Prologue, frozen=True, kw_only=True, rename="camel"):
    location_type_description_registry_text: str
    location_by_value: str | None = None  # a PIDF-LO XML document
    location_description_text: str | None = None


class AdditionalData(_Prologue, frozen=True, kw_only=True, rename="camel"):
    additional_data_by_value: str | None = None  # an RFC 7852 XML block (Comment, ProviderInfo...)


class Notes(_Prologue, frozen=True, kw_only=True, rename="camel"):
    notes_action_comments: str  # HTML5


class Disposition(_Prologue, frozen=True, kw_only=True, rename="camel"):
    disposition_common_registry_code: str
    disposition_primary_indicator: bool | None = None
    disposition_description_text: str | None = None


class Incident(_Prologue, frozen=True, kw_only=True, rename="camel"):
    incident_type_common_registry_text: str
    incident_type_internal_code: str | None = None
    incident_type_internal_text: str | None = None
    incident_status_common_registry_text: list[str] = []
    internal_incident_id: str | None = None
    incident_priority_internal_text: str | None = None
    incident_common_priority_number: int | None = None
    beat_or_dispatch_group_text: str | None = None
    disposition_component: list[Disposition] = []
    location_reference: list[Reference] = []
    person_reference: list[Reference] = []
    notes_reference: list[Reference] = []


class EmergencyResource(_Prologue, frozen=True, kw_only=True, rename="camel"):
    agent_reference: list[Reference]
    emergency_resource_type_common_registry_text: str
    primary_unit_status_registry_text: str
    resource_attribute_registry_text: list[str]
    secondary_unit_status_registry_text: list[str]
    emergency_resource_name: str | None = None


class Dispatch(_Prologue, frozen=True, kw_only=True, rename="camel"):
    agency_reference: Reference | None = None
    emergency_resource_reference: list[Reference] = []


class Eido(_Prologue, frozen=True, kw_only=True, rename="camel"):
    """EmergencyIncidentDataObjectType: the root of an EIDO document."""

    eido_version: Literal["1.0"]
    issuing_element_identification: str
    agency_component: list[Agency]
    incident_component: Incident | None = None
    call_component: list[Call] = []
    callback_component: list[Callback] = []
    dispatch_component: list[Dispatch] = []
    notes_component: list[Notes] = []
    emergency_resource_component: list[EmergencyResource] = []
    agent_component: list[Agent] = []
    additional_data_component: list[AdditionalData] = []
    location_component: list[Location] = []
    person_component: list[Person] = []
