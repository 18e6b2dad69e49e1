"""Who immigration agents say they are, and what they ask for, in dispatch shorthand.

The wording follows the calls KyCIR obtained from MetroSafe (January-June 2017):
knock and talks, "clear the house", traffic stops, warrants to serve at the ICE
office, call-backs on a cell phone, "could use more manpower".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class AgencyProfile:
    agency: str  # the immigration agency the classifier should name: ICE, CBP or USCIS
    stated: tuple[str, ...]  # how the caller states it (caller.agency)
    shorthand: str  # how dispatchers write it in the narrative
    agency_type: str | None  # NENA agency type, when the source carries one
    email_domain: str
    weight: float


AGENCY_PROFILES: Final = (
    AgencyProfile(
        "ICE",
        ("ICE ERO", "ICE", "ERO", "DHS ICE ERO LOUISVILLE", "Immigration and Customs Enforcement"),
        "ICE",
        "police.federal.ice",
        "ice.dhs.gov",
        0.55,
    ),
    AgencyProfile(
        "ICE",  # HSI is ICE's investigative directorate
        ("HSI", "Homeland Security Investigations", "ICE HSI"),
        "HSI",
        "police.federal.ice",
        "ice.dhs.gov",
        0.25,
    ),
    AgencyProfile(
        "CBP",
        ("U.S. Border Patrol", "USBP", "CBP Border Patrol"),
        "BORDER PATROL",
        "police.federal.cbp",
        "cbp.dhs.gov",
        0.08,
    ),
    AgencyProfile(
        "CBP",
        ("CBP", "CBP OFO", "Customs and Border Protection"),
        "CBP",
        "police.federal.cbp",
        "cbp.dhs.gov",
        0.07,
    ),
    AgencyProfile(
        "USCIS",
        ("USCIS", "U.S. Citizenship and Immigration Services"),
        "USCIS",
        None,
        "uscis.dhs.gov",
        0.05,
    ),
)

# Requests with no lawful basis: what a commander should decline.
CIVIL_REQUESTS: Final = (
    "{agency} AGENTS REQ ASSIST W/ KNOCK AND TALK",
    "{agency} AGENTS REQ UNITS TO CLEAR THE HOUSE",
    "REQ TRAFFIC STOP ON VEH FOR {agency}, SUBJ WANTED FOR IMMIGRATION VIOLATION",
    "{agency} AGENT REQ ESCORT TO W LOUISVILLE TO MEET PETITIONER, WOULD FEEL MORE COMFORTABLE",
    "{agency} AGENTS IN FIELD, COULD USE MORE MANPOWER FOR ARREST ON IMMIGRATION CHARGE",
    "{agency} AGENTS REQ MARKED UNIT TO STAND BY AT RESIDENCE WHILE THEY MAKE CONTACT",
)
ADMIN_WARRANT_REQUESTS: Final = (
    "{agency} REQ ASSIST SERVING ADMIN WARRANT (I-200) AT RESIDENCE",
    "{agency} AGENTS HAVE I-205 WARRANT OF REMOVAL, REQ UNITS FOR ENTRY",
)
# Requests with a lawful basis, by basis.
CRIMINAL_WARRANT_REQUESTS: Final = (
    "SUBJECT IN {agency} CUSTODY HAS LOCAL WARRANT, SERVE AT {agency} OFFICE",
    "{agency} AGENTS IN FIELD, SUBJ HAS ACTIVE JEFFERSON CO FELONY WARRANT, REQ UNIT",
    "{agency} RELEASING SUBJ ON OR, HAS ACTIVE HARDIN CO WARRANT, REQ LMPD SERVE",
)
CRIME_REQUESTS: Final = (
    "{agency} AGENTS IN FIELD, SUBJ ASSAULTED AGENT AND FLED ON FOOT",
    "{agency} AGENTS REPORT SUBJ RAMMED AGENCY VEH AND FLED, REQ UNITS",
)
EMERGENCY_REQUESTS: Final = (
    "{agency} AGENT INJURED, LACERATION TO HAND, REQ EMS AND UNITS",
    "{agency} AGENTS REPORT SUBJ BRANDISHING KNIFE AT THEM IN PARKING LOT",
)
# Notes that carry no agency name: the stated agency must be on the caller then.
AGENCY_FREE_NOTES: Final = ("REQ OFFICER CALL BACK ON CELL", "CALLER REQ SUPERVISOR CALL BACK")

AGENCY_CALL_TYPES: Final = ("ASSIST OTHER AGENCY", "ASSIST FEDERAL AGENCY", "INFORMATION")
WARRANT_CALL_TYPE: Final = "WARRANT SERVICE"
EMERGENCY_CALL_TYPES: Final = ("EMERGENCY ASSIST", "ASSIST OTHER AGENCY")
TROUBLE_CALL_TYPES: Final = ("TROUBLE", "OFFICER NEEDS ASSISTANCE", "ASSIST OFFICER")
# Both on the policy's list of phrases that contradict a trouble code.
NOT_IN_TROUBLE_NOTES: Final = (
    "DISPATCH ASKED IF AGENTS IN ANY KIND OF TROUBLE, AGENT ADVISED WE JUST NEED ASSISTANCE",
    "AGENT ADVISED NOT IN TROUBLE, JUST NEED MANPOWER",
    "PER AGENT NO EMERGENCY, JUST NEED HELP WITH PERIMETER",
)
