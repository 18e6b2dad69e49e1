"""The phrases that tell who is speaking when dispatch text mentions an agency.

A narrative that names ICE is usually *not* a call from ICE: it is a resident
afraid of a raid, a scam, or an officer reading a detainer off NCIC. What decides
is the wording around the mention, in the same clause:

- identity: the caller *is* the agency: "ICE AGENT REQ ...", "HSI SA SMITH ON
  LINE 3", "caller states she is with ...", "AGENTS WITH ICE ASKING FOR UNITS",
  "ASSIST ICE";
- third party: someone else is talking about it: "NEIGHBOR SAYS ICE TOOK ...",
  "CALLER REPORTS MAN CLAIMING TO BE ICE";
- civilian context: fear, detainers, NCIC hits, raids, protests;
- impersonation: "claims to be", "fake", "scam";
- the agent's own: with an agent's title in the caller-name field ("SA KIM DOE"),
  wording that makes the agency the caller's: "SUBJ IN ICE CUSTODY", "SERVE AT
  ICE OFFICE", "REQ STOP ON VEH FOR ICE", unless the custody is a relative's.

All patterns run on upper-cased text, compiled once. "Before" patterns end in
``$`` and are searched with ``endpos`` at the mention, so nothing is sliced.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

# Who an agency caller is: "SA", "AGENT", "DEPORTATION OFFICER", "DUTY DESK", ...
TITLE: Final = (
    r"(?:SUPERVISORY\s+SPECIAL\s+AGENTS?|SPECIAL\s+AGENTS?|SSA|SA|S/A|AGENTS?|AGTS?"
    r"|DEPORTATION\s+OFFICERS?|SDDO|DO|OFFICERS?|OFCS?|OFFS?|SUPERVISORS?|SUPVS?|SGT"
    r"|INVESTIGATORS?|INSPECTORS?|TFOS?|TASK\s+FORCE(?:\s+OFFICERS?)?|TEAMS?|UNITS?"
    r"|OFFICE|DESK|DUTY\s+(?:AGENT|OFFICER|DESK)|PERSONNEL|EMPLOYEES?|REPS?"
    r"|REPRESENTATIVES?|ANALYSTS?|FIELD\s+OFFICE|COMMAND\s+CENTER|OPS\s+CENTER"
    r"|FRONT\s+DESK|SAC(?:\s+OFFICE)?|DUTY\s+OFFICE|SECURITY"
    # who else an office's call comes from: "USCIS ASC MGR", "OFO WATCH COMMANDER", "STAFF"
    r"|STAFF|MGRS?|MANAGERS?|DIRECTORS?|(?:WATCH\s+)?COMMANDERS?|SPECIALISTS?|OFCRS?|GUYS"
    # Spanish: "AGENTE DE ICE", "OFICIAL DE LA PATRULLA FRONTERIZA", "OFICINA DE USCIS"
    r"|AGENTES?(?:\s+ESPECIAL(?:ES)?|\s+FEDERAL(?:ES)?)?|OFICIAL(?:ES)?|OFICINA|SUPERVISORA?)"
)
_TITLE_RE: Final = re.compile(rf"[ \t/\-,:]*{TITLE}\b")

# A surname after a title: one or two words, but never a verb or a little word.
_NAME_WORD: Final = (
    r"(?!(?:ON|AT|IN|TO|THE|AND|OR|IS|ARE|WAS|WERE|HAS|HAVE|NOT|FOR|FROM|WITH|OF|BY)\b)"
    r"(?![A-Z]+ING\b)[A-Z][A-Z'\-]*\.?"
)

# What an agency caller does in the words right after naming itself.
_VERB: Final = (
    r"(?:REQ\w*|RQST\w*|ASK\w*|NEED\w*|WANT\w*|WOULD\s+LIKE|CALL(?:ING|ED|S)?"
    r"|ON\s+(?:THE\s+)?(?:LINE|LN|PHONE|HOLD|SCENE)|ADV\w*|STATE[SD]?|STATING|SAYS|SAID"
    r"|REPORT(?:S|ING|ED)?|RPT(?:S|D|G|ING)|INFORM(?:S|ING)?|IN\s+PURSUIT|PURSUING|FOLLOWING|CHASING|TRAILING|SURVEILLING"
    r"|WATCHING|CONDUCTING|SERVING|EXECUTING|ATTEMPTING|TRYING|OS|ARRIVED|EN\s*ROUTE"
    r"|STAGING|STAGED|RELEASING|TRANSPORTING|LOOKING\s+FOR|HOLDING|NOTIFYING|INJURED|HURT"
    r"|(?:IS|ARE)\s+(?:REQ\w*|ASKING|CALLING|HOLDING|ON\s+(?:THE\s+)?(?:LINE|SCENE))"
    r"|HA(?:S|VE)\s+(?:A\s+|AN\s+|ONE\s+|TWO\s+|\d\s+)?(?:SUBJ\w*|SUSPECTS?|MALES?"
    r"|FEMALES?|PRISONERS?|DETAINEES?|TARGETS?|VEH\w*|INFO\w*|WARRANTS?|A\s+WARRANT)"
    r"|10-?\d{1,2}|CB|CALLBACK|CALL\s+BACK"
    r"|WE(?:\s+HAVE|'VE\s+GOT|\s+GOT|\s+NEED)|TENEMOS|NECESITAMOS"
    # at work, said of themselves: "HSI SPECIAL AGENT ON DUTY, WITNESSED", "FDNS OFFICER
    # DOING A SITE VISIT", "HSI SA HEADS-UP: ...", "ICE PIDIO POR TELEFONO"
    r"|ON[\s-]DUTY|ON\s+(?:A\s+)?SITE\s+VISIT|HEADS[\s-]?UP|FYI"
    r"|DOING\s+(?:AN?\s+)?(?:SITE\s+VISIT|CHECK|FOLLOW[\s-]?UP|KNOCK|INTERVIEW|SURVEILLANCE|WELFARE)"
    r"|PIDIO|PIDIERON|SOLICITO|SOLICITARON|LLAMO|AVISO"
    # Spanish: what the agent does on the line
    r"|PIDEN?|SOLICITA\w*|LLAMA\w*|NECESITA\w*|QUIERE\w*|DICEN?|INFORMA\w*|REPORTA\w*"
    r"|REQUIERE\w*|TIENEN?|HABLA\w*|ESTAN?\s+(?:EN\s+LA\s+LINEA|EN\s+LA\s+ESCENA|SIGUIENDO)"
    r"|ADVIERTE|AVISA\w*|BUSCA\w*|EN\s+LA\s+LINEA|PREGUNTA\w*"
    # on duty, meeting an ordinary incident: "DEPORTATION OFFICER DRIVING A GOVT CAR
    # WITNESSED A CRASH" (the passer-by off duty is PRIVATE_MATTER's, not this)
    r"|WITNESSED|WITNESSING|OBSERVED|OBSERVING|SEE|SEES|SAW|HEAR|HEARS|HEARD"
    r"|(?:SITTING\s+)?ON\s+(?:A\s+)?(?:SURVEILLANCE|SURV|STAKEOUT)|SITTING\s+ON"
    r"|(?:DRIVING|IN)\s+(?:AN?\s+|HIS\s+|HER\s+|THEIR\s+)?(?:GOV\w*|G-?RIDE|AGENCY|UNMARKED|MARKED)"
    r"\s+(?:VEH\w*|CAR|TRUCK|SUV|VAN))\b"
)

# Offices and units an agency calls from: with a title, what may stand between the
# name and the verb ("USCIS APPLICATION SUPPORT CENTER ADV").
_PLACE_TITLE: Final = r"(?:CENTER|CENTRE|STATION|FACILITY|BRANCH|HQ|HEADQUARTERS|PORT|LOBBY)"
# Where the caller is, said before what they do: "ICE OFFICE ON 7TH ST ADV", "CBP @ SDF
# INTL ARRIVALS REQ UNIT". Only before the verbs a caller opens with, and a few words.
_AT_PLACE: Final = (
    r"(?:\s*@\s*|\s+(?:AT|ON|IN|NEAR)\s+)(?:THE\s+)?(?!HIS\b|HER\b|MY\b|THEIR\b|OUR\b)"
    r"(?:[A-Z0-9#'.&/\-]+\s+){1,6}?(?=(?:REQ\w*|RQST\w*|ADV\w*|ASK\w*|NEED\w*|CALLING|STATES"
    r"|REPORT(?:S|ING)|RPTS?|ON\s+(?:THE\s+)?(?:LINE|LN|PHONE))\b)"
)

# "ICE AGENT SMITH REQ ...", "HSI SA J DOE ON LINE 3", "ICE REQ BACKUP": right after the name;
# "USCIS ADJUDICATIONS OFFICER REPORTING", "US BORDER PATROL AGT (DETAILED TO LOU) REQ".
IDENTITY_AFTER: Final = re.compile(
    rf"[)'\"]?(?:[ \t/\-,:]*(?:(?:[A-Z]+\s+){{0,3}}?(?:{TITLE}|{_PLACE_TITLE})"
    rf"(?:\s+{_NAME_WORD}){{0,2}}?|{TITLE}(?:\s+{_NAME_WORD}){{0,2}}?))?[ \t,:\-]*"
    rf"(?:\([^()]{{1,30}}\)\s*)?{_VERB}"
)
# The same with the place: tried apart, since a place after every way of reading the
# words before it would cost the regex engine many times over.
_IDENTITY_AT_PLACE: Final = re.compile(
    rf"[)'\"]?(?:[ \t/\-,:]*{TITLE}(?:\s+{_NAME_WORD}){{0,2}}?)?{_AT_PLACE}[ \t,:\-]*{_VERB}"
)


# The agency's own vehicle in trouble on duty: "ERO TRANSPORT VAN PULLED OVER ON I-264",
# "IMMIGRATION AGENTS' VEHICLE T-BONED AT ...". Passive or intransitive only: "ICE VAN HIT
# MY CAR" is a civilian's report, not this.
_VEHICLE_AFTER: Final = re.compile(
    r"(?:'S|')?\s+(?:[A-Z]+\s+){0,2}?(?:VAN|VEH|VEHICLE|CAR|SUV|TRUCK|BUS|CRUISER)S?\s+"
    r"(?:PULLED\s+OVER|BROKE\s*DOWN|BROKEN\s+DOWN|DISABLED|STALLED|STUCK|INVOLVED\s+IN"
    r"|(?:WAS\s+|GOT\s+|WERE\s+)?(?:T-?BONED|REAR[\s-]?ENDED)|(?:WAS|GOT|WERE)\s+(?:HIT|STRUCK))\b"
)


def identity_after(upper: str, end: int, hi: int) -> re.Match[str] | None:
    """What the words right after a name ending at ``end`` say it does, if it acts."""
    m = IDENTITY_AFTER.match(upper, end, hi) or _VEHICLE_AFTER.match(upper, end, hi)
    if m is not None:
        return m
    near = upper[end : min(hi, end + 60)]
    if "@" in near or " AT " in near or " ON " in near or " IN " in near or " NEAR " in near:
        return _IDENTITY_AT_PLACE.match(upper, end, hi)
    return None


# A request later in the same clause, after "<agency> <title>":
# "ICE AGENTS CONDUCTED A STOP ON 2 MALES, REQ LMPD UNITS", "... COULD USE MORE MANPOWER".
LATER_REQUEST: Final = re.compile(
    r"\b(?:REQ\w*|RQST\w*|ASKING\s+(?:FOR|IF\s+LMPD|LMPD|THAT)|COULD\s+USE|NEEDS?\s+(?:ASSIST\w*|BACK\s*UP"
    r"|UNITS?|HELP|OFFICERS?|A\s+CAR|CARS)|WANTS?\s+(?:ASSIST\w*|BACK\s*UP|UNITS?|LMPD|A\s+CAR)"
    r"|CALL\s+(?:HIM|HER|THEM)\b|WANTS?\s+(?:AN?\s+)?(?:LMPD\s+)?(?:CAR|UNIT|OFFICER)S?\b"
    r"|PIDEN?\b|SOLICITA\w*|NECESITA\w*|QUIERE\w*\s+QUE|REQUIERE\w*)"
)

_SPEAKER: Final = r"(?:CALLER|RP|COMPL\w*|CALLING\s+PARTY|REPORTING\s+PARTY|HE|SHE|THEY|I)"
_SAYS: Final = (
    r"(?:STATES|SAYS|ADVISES|ADV|ADVISED|STATED|SAID|IDENTIFIES|IDENTIFIED|ID'?D|IDENTS?)"
    r"(?:\s+(?:HIMSELF|HERSELF|THEMSELVES|SELF))?"
)

# Just before the name: the caller says who they are, or dispatch typed who called.
IDENTITY_BEFORE: Final = re.compile(
    r"(?:"
    # "RP STATED 'WE'RE WITH", "CALLER SAYS SHE'S WITH", "HE SAID HE'S AN AGENT WITH"
    rf"(?<![A-Z0-9]){_SPEAKER}\s+{_SAYS}\s+(?:THAT\s+)?['\"]?(?:HE|SHE|THEY|WE|I)\s*"
    r"(?:'S|'RE|'M|IS|ARE|AM|WAS|WERE)\s+(?:AN?\s+|THE\s+)?"
    r"(?:(?:(?:SPECIAL|FEDERAL|FED)\s+)?(?:AGENTS?|AGTS?|OFFICERS?|OFCS?|INVESTIGATORS?"
    r"|EMPLOYEES?|SUPERVISORS?)\s+)?(?:(?:WITH|FROM|W/|OF|FOR)\s+)?"
    # "THEN SAID 'WE'RE ICE BY THE WAY'", "THEY'RE IMMIGRATION OFFICERS"
    r"|(?<![A-Z0-9])(?:WE|THEY)(?:'RE|\s+ARE)\s+(?:ALL\s+)?(?:WITH\s+|FROM\s+|AN?\s+)?|"
    # "CALLER IS THE FIELD OFFICE DIRECTOR AT", "** AGENT IS WITH **"
    r"(?<![A-Z0-9])(?:CALLER|RP|HE|SHE)\s+(?:IS|WAS)\s+(?:AN?\s+|THE\s+)?(?:[A-Z]+\s+){0,3}?"
    r"(?:DIRECTOR|MANAGER|CHIEF|SUPERVISOR|SUPV|OFFICER|AGENT|ANALYST|ADJUDICATOR|INSPECTOR"
    r"|SPECIALIST)S?\s+(?:WITH|FROM|W/|OF|FOR|AT)\s+|"
    r"(?<![A-Z0-9])(?:AGENTS?|AGTS?|OFFICERS?|OFCS?|SA)\s+(?:IS|ARE|WAS|WERE)\s+(?:WITH|FROM|W/|FOR)\s+|"
    # a form the call-taker fills in: "ORIG: ICE/ERO | REQ: BACKUP", "CALLER: SA TRAN, HSI"
    rf"(?<![A-Z0-9])(?:ORIG(?:INATOR)?|CALLER|RP|CALLING\s+(?:PARTY|AGENCY)"
    rf"|REQ(?:UESTING)?\s+(?:AGENCY|PARTY)|AGENCY)\s*:\s*"
    rf"(?:(?:{TITLE}\.?\s+)?(?:{_NAME_WORD}\s*){{1,2}}?[,/\-]\s*)?|"
    # "CALLER STATES SHE IS WITH", "RP IS AN AGENT WITH THE", "CALLER IS", "IDENTIFIED AS"
    rf"(?<![A-Z0-9]){_SPEAKER}\s+(?:{_SAYS}\s+(?:THAT\s+)?(?:(?:HE|SHE|THEY)\s+)?)?"
    r"(?:IS|ARE|AM|WAS|AS)\s+(?:AN?\s+|THE\s+)?(?:(?:SUPERVISORY|SENIOR|LEAD)\s+)?"
    r"(?:(?:(?:SPECIAL|FEDERAL|FED)\s+)?(?:AGENTS?|AGTS?|OFFICERS?|OFCS?|INVESTIGATORS?"
    r"|EMPLOYEES?|SUPERVISORS?)\s+)?(?:(?:WITH|FROM|W/|OF|FOR)\s+)?"
    # "CALLER STATES SHE WORKS FOR", "HE WORKS WITH"
    rf"|(?<![A-Z0-9]){_SPEAKER}\s+(?:{_SAYS}\s+(?:THAT\s+)?(?:(?:HE|SHE|THEY)\s+)?)?"
    r"WORKS?\s+(?:FOR|WITH|AT)\s+"
    # "AGENTS WITH", "SA SMITH FROM", "WOMAN FROM", "CALLER W/"
    rf"|(?<![A-Z0-9]){TITLE}\.?(?:\s+{_NAME_WORD}){{0,2}}?\s+(?:WITH|FROM|W/|OF|DE|DEL|DE\s+LA)\s+"
    # "OFFICER KAREN LUTZ, IMMIGRATION AND CUSTOMS ENFORCEMENT. STATES ...": a titled
    # name and a comma is how a caller introduces themselves
    rf"|(?:^|(?<=[.;:]\s))(?:{TITLE})(?:\s+{_NAME_WORD}){{1,2}}\s*,\s*"
    # "BRENDA COLLIER HERE FROM IMMIGRATION AND CUSTOMS", "THIS IS DOE HERE WITH"
    rf"|(?<![A-Z0-9])(?:{_NAME_WORD}\s+){{1,2}}HERE\s+(?:FROM|WITH|W/|AT)\s+"
    # "AGENT AT ICE OFFICE ADV ..." (not "REQ UNIT AT ICE OFFICE": a place)
    r"|(?<![A-Z0-9])(?:(?:SPECIAL\s+)?AGENTS?|AGTS?|SA|OFFICERS?)\s+AT\s+"
    # "AGENT SMITH (ICE) REQ", "RP (ICE) ADV", "SA MARTINEZ (HSI) LLAMA"
    rf"|(?<![A-Z0-9])(?:{TITLE}(?:\s+{_NAME_WORD}){{0,2}}?|CALLER|RP)\s*[(\[]\s*"
    # Spanish: "CALLER ES AGENTE DE HSI", "DICE QUE ES DE ICE", "LLAMAN DE ICE"
    r"|(?<![A-Z0-9])(?:CALLER|RP|LLAMANTE|EL|ELLA|QUIEN\s+LLAMA)\s+(?:DICE\s+QUE\s+)?"
    r"(?:ES|SON|SOY|(?:DICE|DIJO)\s+SER)\s+(?:UNA?\s+)?(?:(?:AGENTE|OFICIAL)(?:\s+FEDERAL)?\s+)?"
    r"(?:DE\s+(?:LA\s+)?|DEL\s+)?"
    r"|(?<![A-Z0-9])(?:LLAMAN?|HABLAN?)\s+(?:DE|DESDE)\s+(?:LA\s+)?"
    # the subject left out, as Spanish does: "DICE QUE ES OFICIAL DE MIGRACION"
    r"|(?:^|[.;:!?]\s*)(?:DICEN?|DIJO|DIJERON)\s+QUE\s+(?:ES|SON|ERA|ERAN)\s+(?:UNA?\s+)?"
    r"(?:(?:AGENTES?|OFICIAL(?:ES)?)(?:\s+FEDERAL(?:ES)?)?\s+)?(?:DE\s+(?:LA\s+)?|DEL\s+)?"
    # "LLAMADA DE LA SUPERVISORA DEL CENTRO DE BIOMETRIA DE USCIS", "CALL FROM THE
    # DUTY OFFICER AT": who called, then where they work
    r"|(?<![A-Z0-9])(?:LLAMADA|CALL)\s+(?:DE|FROM)\s+(?:[A-Z]+\s+){1,6}?(?:DE|DEL|OF|AT|FROM|WITH)\s+"
    r"(?:LA\s+|EL\s+)?"
    r"|(?<![A-Z0-9])(?:WOMAN|MAN|FEMALE|MALE|SOMEONE|PARTY|CALLER|RP)\s+(?:WITH|FROM|W/)\s+"
    # dispatch's own shorthand: "ASSIST ICE", "MEET OTHER AGENCY - ICE", "CALL FROM CBP"
    r"|(?<![A-Z0-9])(?:ASSIST|ASST|ASSISTANCE\s+(?:TO|FOR)|MEET(?:\s+WITH)?|BACK\s*UP\s+FOR"
    r"|REQ(?:UEST)?(?:ED)?\s+BY|RQSTD\s+BY|CALL(?:\s+IN)?\s+FROM|CALLED\s+BY|(?:PHONE\s+)?CALL\s+FROM"
    r"|REQ(?:UEST)?S?\s+FROM|RQST\s+FROM|TRANSFER\w*\s+FROM|LLAMADA\s+DE|DE\s+PARTE\s+DE"
    r"|ON\s+BEHALF\s+OF|LINE\s+\d+\s*[-:]?|CB\s+TO|CALLBACK\s+TO|CALL\s+BACK\s+TO"
    r"|RELAY(?:ING|S|ED)?\s+(?:FOR|FROM)|(?:COURTESY\s+)?NOTIFICATION\s+FROM|HEADS[\s-]?UP\s+FROM"
    r"|COURTESY\s+CALL\s+FROM)\s+"
    r"(?:(?:THE\s+)?(?:FEDERAL|FED|OTHER|OUTSIDE)?\s*AGENCY\s*[-/:,]?\s*)?"
    r")['\"]?\s*(?:THE\s+)?(?:US\s+|U\.S\.\s+)?$"
)

# A civilian reporting *about* the agency: it comes straight after their verb.
REPORTED_BY_CALLER: Final = re.compile(
    r"(?<![A-Z0-9])(?:CALLER|RP|COMPL\w*|CALLING\s+PARTY|REPORTING\s+PARTY)\s+(?:IS\s+)?"
    r"(?:REPORT\w*|STATES|STATED|SAYS|SAID|ADV\w*|SEES|SAW|OBSERVED|OBSERVES|HEARD|BELIEVES"
    r"|THINKS|CLAIMS|COMPLAIN\w*|ASKS|ASKED|ASKING)\s+(?:THAT\s+)?(?:THERE\s+(?:IS|ARE)\s+)?"
    r"(?:AN?\s+|THE\s+|SOME\s+|SEVERAL\s+|TWO\s+|\d\s+)?(?:US\s+)?$"
)
REPORTED_BY_OTHER: Final = re.compile(
    r"(?<![A-Z0-9])(?:NEIGHBOR\w*|WITNESS\w*|CITIZEN|RESIDENT|TENANT|MANAGER|EMPLOYEE|CLERK"
    r"|TEACHER|PRINCIPAL|MOTHER|FATHER|MOM|DAD|WIFE|HUSBAND|SISTER|BROTHER|DAUGHTER|SON"
    r"|FRIEND|GIRLFRIEND|BOYFRIEND|VICTIM|VICT|WOMAN|MAN|FEMALE|MALE|LADY|GUY|FAMILY"
    r"|RELATIVE|COWORKER|CO-WORKER|PASTOR|LANDLORD|VOLUNTEER|ADVOCATE|HOTLINE|ORGANIZER"
    r"|ATTORNEY|LAWYER|REPORTER|DRIVER|PASSENGER|OCCUPANT)S?"
    r"(?:\s+(?:W/|WITH|FROM|AT)\s+(?:AN?\s+|THE\s+)?(?:[A-Z'\-]+\s+){0,4}?[A-Z'\-]+)?"
    r"\s+(?:IS\s+)?(?:REPORT\w*|STATES|STATED"
    r"|SAYS|SAID|ADV\w*|SEES|SAW|OBSERVED|HEARD|BELIEVES|THINKS|CLAIMS|TOLD\s+(?:CALLER|RP)"
    r"|ASKS|ASKED|ASKING)\s+(?:THAT\s+)?(?:THERE\s+(?:IS|ARE)\s+)?"
    # "DRIVER ASKED IF WE ARE 'LA MIGRA'", "REPORTER ASKING IF LMPD HELPED WITH THE"
    r"(?:(?:IF|WHETHER)\s+(?:[A-Z']+\s+){1,6}?(?:ARE|IS|WERE|WAS|WITH|ABOUT|FOR|IN|ON|BY)\s+['\"]?)?"
    r"(?:AN?\s+|THE\s+|SOME\s+|SEVERAL\s+|TWO\s+|\d\s+)?(?:US\s+)?$"
)

# The agency is the object of someone else's doing: "PICKED UP BY ICE", "REPORT HIM
# TO ICE", "AFRAID OF ICE", "PROTEST AGAINST ICE", "LANDLORD CALLED ICE".
OBJECT_OF: Final = re.compile(
    r"(?<![A-Z0-9])(?:(?:TAKEN|TOOK|DETAINED|ARRESTED|PICKED\s+UP|DEPORTED|HELD|QUESTIONED"
    r"|STOPPED|RAIDED|HARASSED|THREATENED|VISITED|HUNTED|TARGETED|WANTED)\s+BY"
    r"|(?:REPORT\w*|TURN\w*(?:\s+\w+)?\s+IN|SNITCH\w*|REFER\w*)(?:\s+[A-Z'/]+){0,3}?\s+TO"
    # Spanish: "REPORTAR A SU VECINO A", "LLAMAR A", "MIEDO DE", "DETENIDO POR"
    r"|(?:REPORTAR\w*|DENUNCIAR\w*|ACUSAR\w*)(?:\s+[A-Z]+){0,3}?\s+(?:A|CON)"
    # where something is, not who calls: "FEDERAL BUILDING THAT HOUSES THE USCIS OFFICE"
    r"|HOUSES|HOUSING|NEXT\s+TO|ACROSS\s+(?:THE\s+STREET\s+)?FROM|IN\s+FRONT\s+OF|BEHIND|NEAR"
    r"|(?:LLAMAR|LLAMO|LLAMARA|LLAME)\s+A|MIEDO\s+(?:DE|A)|TEME\w*\s+(?:A|DE)|HUYENDO\s+DE"
    r"|(?:DETENID|ARRESTAD|LLEVAD|DEPORTAD)[OA]S?\s+POR|SE\s+(?:LO|LA|LOS)\s+LLEVO"
    r"|POLICY\s+(?:ON|ABOUT|REGARDING|FOR)|QUESTIONS?\s+(?:ON|ABOUT|REGARDING)"
    r"|(?:AFRAID|SCARED|FEAR\w*|TERRIFIED|WARY|CONCERNED|WORRIED)\s+(?:OF|ABOUT)"
    r"|ABOUT|AGAINST|ABOLISH|CALL(?:ED|S|ING)?|WILL\s+CALL|TO\s+CALL|CONTACT(?:ED|ING)?|NOTIFY"
    r"|NOTIFIED|HIDING\s+FROM|RUNNING\s+FROM|RAN\s+FROM|FLED\s+FROM"
    # "LETTER FROM USCIS", "RPT FOR USCIS", "APPOINTMENT AT USCIS": papers, not a caller
    r"|(?:LETTERS?|NOTICES?|MAIL|PAPERS?|PAPERWORK|DOCUMENTS?|DOCS|FORMS?|CARDS?|APPOINTMENTS?"
    r"|INTERVIEWS?|APPLICATIONS?|RPT|REPORT|CHECK|PAYMENTS?|FEES?|CITA|CARTA)\s+(?:FROM|FOR|TO|AT|WITH"
    r"|BY|DE|PARA|CON|EN)"
    # "NEIGHBOR (WORKS FOR BORDER PATROL PER RP)": someone else's job, not the caller's
    r"|(?:NEIGHBOR\w*|FRIEND|HUSBAND|WIFE|SON|DAUGHTER|BROTHER|SISTER|MOTHER|FATHER|COUSIN"
    r"|UNCLE|AUNT|BOYFRIEND|GIRLFRIEND|TENANT|LANDLORD|ROOMMATE|COWORKER|SUBJ\w*|SUSP\w*|MALE"
    r"|FEMALE|MAN|WOMAN|GUY|VECIN[OA]|ESPOS[OA]|HERMAN[OA]|HIJ[OA])(?:'?S)?\W{1,3}(?:WHO\s+)?"
    r"['\"]?(?:WORKS?|WORKED|IS\s+EMPLOYED)\s+(?:FOR|WITH|AT)"
    # "OFC REQ CALL FROM ICE": what is asked for, not who is asking
    r"|REQ\w*\s+(?:A\s+)?(?:CALL|CALLBACK|CALL\s+BACK|CONTACT|RESPONSE|INFO\w*)\s+FROM"
    # "RELAY HIS CB TO HSI DUTY AGENT": a number passed on to it, not its call
    r"|(?:RELAY|PASS|GIVE|GAVE|FORWARD|SEND|SENT)\w*\s+(?:HIS|HER|THEIR|THE|A|MY|OUR)?\s*"
    r"(?:CB|CALLBACK|CALL\s*BACK|NUMBER|#|INFO|MSG|MESSAGE)(?:\s+(?:NUMBER|#|NO))?\s+TO"
    r"|RELAY(?:ED|ING|S)?(?:\s+(?:A\s+)?(?:MSG|MESSAGE|INFO))?\s+TO"
    # a call type named, not a call: "RUNS CODED AS 'ASSIST ICE' FOR THE AUDIT"
    r"|(?:CODED|TYPED|CLASSIFIED|LABEL+ED|FILED|LOGGED)\s+(?:AS|UNDER)"
    r"(?:\s+['\"]?(?:ASSIST|ASST|MEET(?:\s+WITH)?)(?:\s+OTHER\s+AGENCY)?)?"
    r")\s+(?:THE\s+)?(?:US\s+)?$"
)

# Of OBJECT_OF's forms, those that say someone got in touch with the agency, and the words
# with which it answers: "REQ DISPATCH CALL CBP AT THE AIRPORT ... CBP ADVISED NOTHING".
CONTACTED: Final = re.compile(
    r"\b(?:CALL(?:ED|S|ING)?|WILL\s+CALL|TO\s+CALL|CONTACT(?:ED|ING)?|NOTIFY|NOTIFIED|RELAY\w*"
    r"|LLAMAR|LLAMO|LLAMARA|LLAME)\b"
)
ANSWERS: Final = re.compile(
    r"[)'\"]?[ \t/\-,:]*(?:ADV\w*|SAID|SAYS|STATED|STATES|REPLIED|RESPONDED|CONFIRMED|ADVISES"
    r"|DIJO|DICE|INFORMO)\b"
)

# A local officer has dispatch note what was seen: "SGT 6TH DIV ASKS DISPATCH TO LOG THAT
# ICE AGENTS WERE SEEN STAGING ..., NO REQUEST RECEIVED FROM THEM".
LOGGED_BY_OTHER: Final = re.compile(
    r"(?<![A-Z0-9])(?:ASKS?|ASKING|REQ\w*|WANTS?)\s+(?:DISPATCH|METROSAFE|CT|US)\s+(?:TO\s+)?"
    r"(?:LOG|NOTE|DOCUMENT|RECORD|ENTER)\s+(?:IT\s+)?(?:THAT\s+)?[^;.!?\n|]{0,40}$"
)
# ... and says outright that the agency did not call.
NOT_FROM_THEM: Final = re.compile(
    r"(?<![A-Z0-9])NO\s+(?:REQUEST|CALL|CONTACT)\s+(?:\w+\s+)?FROM\s+(?:THEM|THE\s+AGENTS)(?![A-Z0-9])"
)

# Earlier in the clause, the caller reports another person, who is the one
# mentioning the agency: "CALLER REPORTS MAN AT DOOR SAYING HE IS WITH ICE".
THIRD_PARTY: Final = re.compile(
    r"(?<![A-Z0-9])(?:CALLER|RP|COMPL\w*|NEIGHBOR\w*|WITNESS\w*|OFC|OFCR|OFFICER|UNIT|SGT|DET"
    r"|DEPUTY|LMDC|JAIL|FEMALE|MALE|WOMAN|MAN|RESIDENT|TENANT|MOTHER|FATHER|MOM|DAD|WIFE"
    r"|HUSBAND|TEACHER|PRINCIPAL|MANAGER|MGR|EMPLOYEE|CLERK|PASTOR|SENORA|SENOR|MUJER|HOMBRE"
    r"|VECIN[OA]S?|LLAMANTE|\d[A-Z]\d{2,3})\s+(?:IS\s+)?"
    r"(?:REPORT\w*|STATES|SAYS|ADV\w*|SEES|SAW|OBSERVED|COMPLAIN\w*|DICEN?|VIO|VIERON|VEN?)\s+"
    r"(?:OF\s+)?(?:THAT\s+|QUE\s+)?"
    r"(?:THERE\s+(?:IS|ARE|WAS|WERE)\s+)?(?:AN?\s+|TWO\s+|\d\s+|SEVERAL\s+|SOME\s+|UNA?\s+|UNOS\s+|DOS\s+)?"
    r"(?:UNK\w*\s+|SUSP\w*\s+|STRANGE\s+|W/M\s+|B/M\s+|H/M\s+|FED\w*\s+)?"
    r"(?:MAN|MEN|MALES?|FEMALES?|WOMAN|WOMEN|SUBJ\w*|SOMEONE|PEOPLE|PERSONS?|GUYS?"
    r"|INDIVIDUALS?|PARTY|PARTIES|CALLERS?|VEH\w*|CAR|TRUCK|VAN|AGENTS?|OFFICERS?|UNITS"
    r"|AGENTES?|OFICIAL(?:ES)?|HOMBRES?)\b"
    # ("MALE CALLER SAYS HE IS WITH ICE" is the caller, not a third party)
    r"|(?<![A-Z0-9])(?:MAN|MEN|MALES?|FEMALES?|WOMAN|WOMEN|SUBJ\w*|SOMEONE|PEOPLE|PERSONS?"
    r"|GUYS?|INDIVIDUALS?|HOMBRES?|MUJER(?:ES)?|SUJETOS?)\b(?!\s+(?:CALLER|RP|COMPL))[^;.!?\n|]{0,60}?"
    r"\b(?:SAYING|SAID|STATING|STATED|CLAIM\w*|WHO\s+SA(?:YS|ID)|POSING|PRETEND\w*|IDENTIFYING"
    r"|IDENTIFIED|DICIENDO|DICIENDOLES)\b"
    # a suspect is a third party whatever the verb; "MALE STATES ..." is often the caller
    r"|(?<![A-Z0-9])(?:SUBJ\w*|SUSP\w*)\s+(?:STATES|SAYS|ADVISES|ADV)\b"
)

# Doubt is about the caller's identity, never the situation: "VISITOR CLAIMS TO HAVE A
# GUN", "SUBJ GAVE FALSE NAME", "MALE W/ FAKE ID", "MARRIAGE FRAUD SITE CHECK" are what
# an agency calls about. So "claims", "fake", "false" count only where they bear on
# who someone is: "CLAIMS TO BE", "CLAIMS HE IS WITH", "FAKE AGENT", "FALSELY
# IDENTIFIED", "AGENTES FALSOS".
_WHO: Final = (
    r"(?:AGENTS?|AGTS?|OFFICERS?|OFCRS?|OFFICIALS?|BADGES?|CREDENTIALS?|CREDS|UNIFORMS?"
    r"|CALLS?|CALLERS?|COPS?|FEDS?|ICE|HSI|CBP|USCIS|ERO|DHS|IMMIGRATION|BORDER|CUSTOMS"
    r"|DEPORTATION|WARRANT)"
)
_CLAIMS_TO_BE: Final = (
    # ("CLAIMS TO BE A US CITIZEN" is what a subject says: who they are is the case)
    r"CLAIM(?:S|ED|ING)?\s+(?!TO\s+BE\s+(?:AN?\s+)?(?:US\s+|U\.S\.\s+|AMERICAN\s+)?CITIZEN)"
    r"(?:TO\s+(?:BE|WORK)|(?:THAT\s+)?(?:(?:HE|SHE|THEY)\s+(?:IS|WAS|ARE|WERE"
    r"|WORKS?|WORKED)|HE'S|SHE'S|THEY'RE)\b|(?:BEING|BE)\s+(?:AN?\s+)?(?:AGENT|OFFICER|WITH|FROM)"
    r"|(?:AN?\s+)?(?:FEDERAL\s+|FED\s+)?(?:AGENT|OFFICER)|(?:TO\s+BE\s+)?(?:WITH|FROM)\b)"
)
_FAKE_WHO: Final = (
    rf"(?:FAKE|BOGUS|PHONY|FALSE|FRAUDULENT)\s+(?:[A-Z.'/]+\s+){{0,2}}?{_WHO}\b"
    r"|FALSELY\s+(?:CLAIM\w*|IDENTIF\w*|STAT\w*|REPRESENT\w*|SA(?:YS|ID)|POS\w*)"
    r"|(?:FALS[OA]S?|FINGI\w*)\s+(?:AGENTES?|OFICIAL\w*|POLICIAS?)"
    r"|(?:AGENTES?|OFICIAL\w*)(?:\s+[A-Z]+){0,3}?\s+FALS[OA]S?"
)
# Payment by an app, a gift card or a wire: how these scams collect, whoever called.
_SCAM_PAYMENT: Final = (
    r"ZELLE|VENMO|CASH\s*APP|WESTERN\s+UNION|MONEYGRAM|GREEN\s*DOT|BITCOIN|CRYPTO\w*"
    r"|GIFT\s*CARDS?|TARJETAS?\s+DE\s+REGALO|SPOOF\w*"
    r"|UNLESS\s+(?:HE|SHE|THEY|RP|CALLER|VICT\w*)\s+PA(?:ID|YS?|YING)"
)

# Someone pretending, or a call nobody could verify: both ask for review at the least.
IMPERSONATION: Final = re.compile(
    rf"\b(?:{_CLAIMS_TO_BE}|{_FAKE_WHO}|{_SCAM_PAYMENT}|IMPERSONAT\w*|POS(?:ING|ED|ES|E)\s+AS"
    r"|PRETEND\w*|SCAM\w*|DEMAND\w*\s+(?:MONEY|PAYMENT|CASH|GIFT|BITCOIN|PAY)"
    r"|EXTORT\w*|WIRE\s+MONEY|(?:COULD|CAN)\s*(?:NOT|N'?T)\s+VERIFY|UNABLE\s+TO\s+VERIFY"
    r"|UNVERIFIED|NOT\s+(?:A\s+)?REAL|PRANK\w*|HOAX"
    r"|NOT\s+AN?\s+(?:FED\w*\s+|GOV\w*\s+)?(?:AGENT|OFFICER|EMPLOYEE)"
    r"|ESTAFA\w*|SE\s+HACE\s+PASAR|HACIENDOSE\s+PASAR"
    # "UN HOMBRE DICE SER", "UN MENSAJE QUE DICE SER DE USCIS": a claim; but "LLAMANTE DICE
    # SER AGENTE" is how a call-taker writes "the caller says he is"
    r"|(?<!LLAMANTE\s)(?<!CALLER\s)(?<!RP\s)(?:DICE|DIJO)\s+SER"
    r"|NO\s+(?:ES|ERA|SON|ERAN)\s+(?:REAL(?:ES)?|DE\s+VERDAD|VERDADER[OA]S?)"
    r"|SOUNDED\s+(?:LIKE\s+)?(?:AN?\s+)?(?:JUV\w*|KID|CHILD|YOUNG|INTOX\w*|DRUNK|IMPAIRED)"
    r"|WOULD\s+NOT\s+GIVE\s+(?:A\s+|HIS\s+|HER\s+)?NAME|HUNG\s+UP"
    r"|ADMIT\w*\s+(?:THAT\s+)?(?:HE|SHE|THEY|HE'S|SHE'S)\s+(?:IS\s+|WAS\s+|ARE\s+|WERE\s+)?NOT"
    r"|NOT\s+AFFILIATED|HOMEMADE|HOME-MADE)\b"
)

# A caller who says they are the agency, but nobody could check: the call dropped,
# the callback went unanswered, on duty or not unknown. Doubt on the claim (a review),
# never a sign that a mention is a civilian's.
UNCHECKED: Final = re.compile(
    r"\b(?:HUNG\s+UP|HANG\s*UP|DISCONNECTED|(?:LINE|CALL)\s+DROPPED"
    r"|(?:CB|CALL\s*BACK)\s+(?:(?:WENT\s+)?TO\s+VOICEMAIL|NO\s+ANS\w*|UNANSWERED)"
    r"|NO\s+ANS\w*\s+ON\s+(?:CB|CALL\s*BACK)"
    # the number or the agents were not there: "CB NUMBER GIVEN IS NOT IN SERVICE",
    # "CHECKED HOTEL LOT, NO AGENTS LOCATED"
    r"|NOT\s+IN\s+SERVICE|NO\s+ESTA\s+EN\s+SERVICIO|FUERA\s+DE\s+SERVICIO\s+EL\s+NUMERO|COLGO|COLGARON"
    r"|NO\s+(?:SUCH\s+)?(?:AGENTS?|FEDS|FEDERAL\s+(?:AGENTS?|OFFICERS?|VEH\w*)"
    r"|OFFICERS?)\s+(?:WERE\s+|WAS\s+)?(?:LOCATED|FOUND|ON\s+SCENE|IN\s+THE\s+AREA)"
    # on duty or not nobody knows: a person should decide
    r"|(?:UNK\w*|UNSURE|NOT\s+SURE|UNCLEAR)\s+(?:IF|WHETHER)\s+(?:\w+\s+)?(?:ON|OFF)[\s-]DUTY"
    r"|DUTY\s+STATUS\s+(?:UNK\w*|UNCLEAR|NOT\s+(?:GIVEN|KNOWN)))\b"
)

# The part of that doubt that settles it: not the agency at all ("SCAM", "PRANK - NOT
# AN AGENT", "FAKE ICE AGENT"). The rest ("CLAIMS TO BE", "UNABLE TO VERIFY",
# "SOUNDED JUVENILE", "HUNG UP") asks for review.
FAKE: Final = re.compile(
    rf"\b(?:{_FAKE_WHO}|{_SCAM_PAYMENT}|IMPERSONAT\w*|POS(?:ING|ED|ES|E)\s+AS|PRETEND\w*"
    r"|SCAM\w*|PRANK\w*|HOAX|NOT\s+AN?\s+(?:FED\w*\s+|GOV\w*\s+)?(?:AGENT|OFFICER|EMPLOYEE)"
    r"|NOT\s+(?:A\s+)?REAL|EXTORT\w*|DEMAND\w*\s+(?:MONEY|PAYMENT|CASH|GIFT|BITCOIN|PAY)"
    r"|WIRE\s+MONEY|ESTAFA\w*|SE\s+HACE\s+PASAR|HACIENDOSE\s+PASAR"
    # owned up to: "ON CALLBACK CALLER ADMITTED HE IS NOT BORDER PATROL"
    r"|ADMIT\w*\s+(?:THAT\s+)?(?:HE|SHE|THEY|HE'S|SHE'S)\s+(?:IS\s+|WAS\s+|ARE\s+|WERE\s+)?NOT"
    r"|NOT\s+AFFILIATED|HOMEMADE|HOME-MADE)\b"
)

# Every doubt at once: most texts have none, so one search settles them.
_ANY_DOUBT: Final = re.compile(f"{IMPERSONATION.pattern}|{UNCHECKED.pattern}")


def doubts_in(upper: str) -> tuple[re.Match[str] | None, re.Match[str] | None]:
    """What a whole text says against an identity in it: (a fake, a doubt). Every
    FAKE wording is a doubt too, so a fake can only start at or after the first doubt.
    Doubt about the person an agent calls about is no doubt about the agent: "SUBJ
    GAVE FALSE NAME AND CLAIMS TO BE A US CITIZEN" leaves the caller as they were."""
    doubt = next(
        (m for m in _ANY_DOUBT.finditer(upper) if not of_the_subject(upper, m.start())), None
    )
    if doubt is None:
        return None, None
    fake = next(
        (m for m in FAKE.finditer(upper, doubt.start()) if not of_the_subject(upper, m.start())),
        None,
    )
    return fake, doubt


# The person an agency calls about, then words with no other actor in them, up to the
# cue: what follows is said of that person ("THE TARGET OF THEIR CASE ... TO HIS HOUSE").
_SUBJECT_THEN: Final = re.compile(
    r"(?:(?<![A-Z0-9])(?:SUBJ|SUBJECT|SUSP|SUSPECT|APPLICANT|DETAINEE|TARGET|PRISONER|PETITIONER"
    r"|BENEFICIARY|DEFENDANT|FUGITIVE|DRIVER|PASSENGER|OCCUPANT)S?(?![A-Z0-9])"
    # where the one sought may be: "THEY HAVE INFO HE MAY BE AT HER HOUSE"
    r"|(?<![A-Z0-9])(?:HE|SHE)\s+(?:MAY|MIGHT|COULD)\s+BE(?![A-Z0-9])"
    # the one a welfare check is for: "WELFARE CHECK ON AN EMPLOYEE WHO ... HUNG UP"
    r"|(?<![A-Z0-9])WELFARE\s+CHECK\s+(?:ON|FOR)(?![A-Z0-9]))"
    r"(?:(?!(?<![A-Z0-9])(?:CALLER|RP|AGENTS?|AGTS?|OFFICERS?|ICE|HSI|CBP|USCIS|ERO|I|WE|MY)"
    r"(?![A-Z0-9]))[^;!?\n|.,])*$"
)


# The agency reporting that others pretend to be it: "ICE ERO REPORTS SOMEONE IS USING
# THEIR NAME TO SCAM DETAINEE FAMILIES". The scam is what it calls about, not doubt on it.
IMPERSONATED_BY_OTHERS: Final = re.compile(
    r"(?<![A-Z0-9])(?:SOMEONE|SOMEBODY|SCAMMERS?|IMPOST[OE]RS?|PEOPLE|A\s+MALE|A\s+MAN|CALLERS?)\s+"
    r"(?:IS\s+|ARE\s+|HAS\s+BEEN\s+|HAVE\s+BEEN\s+)?(?:USING\s+(?:THEIR|OUR|ITS)\s+(?:NAME|LOGO|BADGES?)"
    r"|IMPERSONATING\s+(?:THEM|US|THEIR|OUR|ITS)|POSING\s+AS\s+(?:THEM|US|THEIR|OUR|ONE\s+OF\s+(?:THEM|US)))"
)


def of_the_subject(upper: str, at: int, lo: int = 0) -> bool:
    """Whether the cue at ``at`` is said of the subject named shortly before it."""
    return _SUBJECT_THEN.search(upper, max(lo, at - 120), at) is not None


def own_life(upper: str, lo: int, hi: int) -> re.Match[str] | None:
    """An employee's own home, family or car in the clause; not the subject's."""
    for m in OWN_LIFE.finditer(upper, lo, hi):
        if not of_the_subject(upper, m.start(), lo):
            return m
    return None


# An agency's employee calling for themselves, not for the agency: off duty, retired,
# a former agent. Settles it: not the agency calling.
# "FORMER" and "RETIRED" only of the employee: "HER FORMER BOYFRIEND" is the subject's.
OFF_DUTY: Final = re.compile(
    r"\b(?:OFF[\s-]?DUTY|DAY\s+OFF|NOT\s+WORK[\s-]RELATED|USED\s+TO\s+WORK"
    rf"|(?:RETIRED|RET\.|FORMER)\s+(?:[A-Z]+(?:\s+|/)){{0,3}}?(?:{_WHO}|EMPLOYEE|SPECIAL|SA|INSPECTOR|WORKER)\b"
    r"|RETIRED\s+(?:FROM|IN\s+\d+)|EX[\s-](?:AGENT|ICE|CBP|HSI|BORDER|FED\w*)"
    r"|ON\s+VACATION|ON\s+LEAVE|PERSONAL\s+(?:MATTER|CAPACITY|ISSUE|BUSINESS)"
    r"|FUERA\s+DE\s+SERVICIO|DE\s+DESCANSO|JUBILAD[OA]|RETIRAD[OA]|EX\s+AGENTE)\b"
)

# An employee's own life around the call, duty unclear: a person should look.
OWN_LIFE: Final = re.compile(
    r"\b(?:(?:HIS|HER|MY|THEIR)\s+(?:OWN\s+)?(?:HOUSE|HOME|APT|APARTMENT|DRIVEWAY|YARD|RESIDENCE"
    r"|NEIGHBOR\w*|KIDS?|CHILD\w*|DOG)|WAY\s+HOME|HOME\s+FROM\s+WORK"
    # "AT HOME", not "AT HOME DEPOT": the words after it end the phrase
    r"|AT\s+HOME(?=\s*(?:[,.;:)]|$|\s+(?:AND|WHEN|WHILE|ON|IN|OFF|NOW|ALONE)\b))"
    r"|FOLLOWED\s+HOME|NEXT\s+DOOR|SU\s+CASA|MI\s+CASA)\b"
)

# An employee's private business, whatever agency a field names: "REQ REPORT # FOR MY
# HOUSE BURGLARY ... FOR THE INSURANCE CLAIM", "NEIGHBORS HAVING A PARTY, LOUD MUSIC".
PRIVATE_MATTER: Final = re.compile(
    r"\b(?:INSURANCE|LOUD\s+(?:MUSIC|PARTY|NOISE|NEIGHBORS?)|NOISE\s+COMPLAINT|BARKING"
    r"|HAVING\s+A\s+PARTY|(?:MY|HIS|HER)\s+(?:OWN\s+)?(?:HOUSE|HOME|APT|APARTMENT)\s+"
    r"(?:WAS\s+|GOT\s+)?(?:BURGLAR\w*|BROKEN\s+INTO|BROKE\s+INTO|VANDALI\w*)"
    r"|(?:DAUGHTER|SON|WIFE|HUSBAND|KID|CHILD)'?S\s+(?:BIKE|CAR|PHONE|BICYCLE)"
    # said outright, or what only a private person has: "PERSONAL MATTER", "NO FED MATTER",
    # "NOTHING WORK RELATED", "IN HER NAME", "HIS OWN TRUCK", "FROM FRONT PORCH"
    r"|PERSONAL\s+(?:MATTER|BUSINESS|ISSUE|CAPACITY|VEH\w*|CAR|TRUCK|PROPERTY)"
    r"|NO\s+(?:FED\w*|GOV\w*|WORK|JOB|AGENCY)\s+(?:MATTER|NEXUS|INVOLVEMENT|CONNECTION)"
    r"|NOT\s+(?:AN?\s+)?(?:FED\w*|GOV\w*|WORK|JOB|AGENCY)\s+MATTER"
    r"|NOTHING\s+(?:WORK|JOB|GOV\w*|FED\w*|DUTY)[\s-]RELATED|NOTHING\s+GOV\w*\s+TAKEN"
    r"|IN\s+(?:HIS|HER|MY)\s+NAME|(?:HIS|HER|MY)\s+OWN\s+(?:CAR|TRUCK|VEH\w*|SUV|VAN)"
    r"|(?:PACKAGE|PARCEL|PORCH)\s+(?:THEFT|STOLEN|TAKEN)|(?:PACKAGE|PARCEL)S?\s+(?:WAS\s+|WERE\s+)?"
    r"(?:STOLEN|TAKEN)|(?:FROM|ON|IN)\s+(?:HIS|HER|MY|THEIR)\s+(?:FRONT\s+)?(?:PORCH|DRIVEWAY|GARAGE|YARD)"
    r"|(?:ON\s+)?(?:HIS|HER|MY)\s+WAY\s+HOME|BREAK[\s-]?IN\s+AT\s+(?:HIS\s+|HER\s+)?HOME"
    r"|FAMILY\s+(?:WAS\s+)?(?:ON|AWAY\s+ON)\s+VACATION"
    r"|(?:CALLER|RP|HE|SHE)\s+WITNESSED|(?:^|(?<=[.;:]\s))WITNESSED|(?:DRIVING|HEADING|WALKING)\s+HOME"
    r"|ON\s+THE\s+WAY\s+HOME|PASSER-?BY|PASSING\s+BY|STOPPED\s+TO\s+HELP"
    r"|VISITING\s+(?:FAMILY|FRIENDS|RELATIVES|HIS|HER)|CALLING\s+FROM\s+(?:HIS\s+|HER\s+)?HOME"
    r"|(?:HIS|HER|MY|THEIR)\s+OWN\s+(?:DOG|CAT|PET|HOUSE|HOME|APT|APARTMENT|KIDS?|CHILD\w*|BIKE)"
    r"|GOING\s+HOME\s+AFTER|AFTER\s+(?:HIS|HER)\s+SHIFT"
    r"|NEIGHBOR\w*\s+(?:DISPUTE|QUARREL|FEUD)|PROPERTY\s+LINE|(?:HIS|HER|MY)\s+(?:OWN\s+)?TREES?)\b"
)

# On duty after all: the government's vehicle or the job is what the report is for.
_ON_THE_JOB: Final = re.compile(
    r"\b(?:ON[\s-]DUTY|GOV(?:T|ERNMENT)?\s+(?:VEH\w*|CAR|TRUCK|SUV|VAN)|G-?RIDE|FLEET\s+VEH\w*"
    r"|(?:WORK|AGENCY|OFFICIAL|MARKED|UNMARKED|TRANSPORT)\s+(?:VEH\w*|CAR|TRUCK|SUV|VAN))\b"
)


def private_matter(upper: str) -> re.Match[str] | None:
    """An employee's private business in ``upper``, unless it says the job is involved."""
    m = PRIVATE_MATTER.search(upper)
    if m is None or _ON_THE_JOB.search(upper) is not None:
        return None
    return m


# The caller tells what agents did to the caller's own people: "AGENTS FROM
# IMMIGRATION TOOK MY COUSIN": a civilian, whatever words came before the agency.
DONE_TO_CALLERS_OWN: Final = re.compile(
    r"\s*['\"]?\s*(?:TOOK|TAKE|TAKEN|DETAINED|ARRESTED|PICKED\s+UP|DEPORTED|CAME\s+FOR"
    r"|RAIDED|GOT)\s+(?:MY|OUR|HER|HIS|THEIR)\b"
)

# Another agency leads: "DEA IS LEAD AGENCY", "THE FBI-LED JTTF", "LED BY USMS": an
# immigration agency named beside it is a member, not the caller.
LEADS_AFTER: Final = re.compile(
    r"\s*-?\s*LED\b|\s+(?:IS|AS)\s+(?:THE\s+)?LEAD\b|\s+(?:IS\s+)?(?:THE\s+)?LEAD\s+AGENCY\b"
    # "FBI LEAD PER CALLER", "MARSHALS LEAD"
    r"|\s+LEADS?(?=\s*(?:[,.;:)]|$|\s+(?:PER|ON|THE|THIS|AGENCY|CASE|OP)\b))"
    r"|\s+(?:IS\s+)?IN\s+CHARGE\b"
)
# "HSI SA ASSIGNED TO THE DEA TASK FORCE": the group the agent works in is the other
# agency's, so the call is the group's
ASSIGNED_TO_BEFORE: Final = re.compile(
    r"(?<![A-Z0-9])(?:ASSIGNED|DETAILED|ATTACHED|DEPUTIZED)\s+(?:TO|WITH|ON)\s+(?:THE\s+|A\s+)?$"
)
GROUP_AFTER: Final = re.compile(
    r"[ \t\-/]*(?:TASK\s+FORCE|TF|STRIKE\s+FORCE|GROUP|TEAM|JTTF|HIDTA)\b"
)
# names that are a group in themselves: "DETAILED TO HIDTA", "ASSIGNED TO THE JTTF"
GROUP_NAME: Final = re.compile(r"HIDTA|JTTF|TASK\s+FORCE|STRIKE\s+FORCE")
CALLER_AFTER: Final = re.compile(r"\s+(?:IS\s+(?:THE\s+)?)?(?:CALLER|CALLING\s+PARTY)\b")
LED_BY_BEFORE: Final = re.compile(
    r"(?:(?<![A-Z0-9])(?:LED\s+BY|LEAD(?:\s+AGENCY)?\s*(?:IS|:|-)|ON\s+BEHALF\s+OF)"
    r"|(?<=[A-Z0-9])-LED)\s+(?:THE\s+)?$"
)

# "SHE THINKS HE IS IMMIGRATION": someone's belief about a third person, not who calls.
BELIEF: Final = re.compile(
    r"(?<![A-Z0-9])(?:THINKS?|THINKING|BELIEVES?|SUSPECTS?|FEARS?|GUESS\w*|ASSUMES?|CREEN?|PIENSAN?|SOSPECHAN?)\s+"
    r"(?:THAT\s+|QUE\s+)?(?:HE|SHE|THEY|IT|THEM|ES|SON)\b[^;.!?\n|]{0,30}$"
)

# One party to an incident described by its job: "NEIGHBOR DISPUTE OVER A FENCE, ONE OF
# THEM IS AN HSI AGENT", "THE OTHER DRIVER IS A CBP OFFICER". A party, not the caller.
PARTY_DESCRIBED: Final = re.compile(
    r"(?<![A-Z0-9])(?:ONE|BOTH|EITHER|NEITHER|THE\s+OTHER)\s+(?:OF\s+THEM|OF\s+THE\s+\w+|PARTY"
    r"|PARTIES|NEIGHBOR\w*|DRIVERS?|MEN|WOMEN|MALES?|FEMALES?)\s+(?:IS|WAS|ARE|WERE)\s+"
    r"(?:AN?\s+|THE\s+)?(?:OFF[\s-]DUTY\s+)?$"
)

# Someone other than the caller talks about the agency: the four searched as one,
# since most mentions are none of them and one scan of the text costs a third.
SOMEONE_ELSE: Final = re.compile(
    f"{THIRD_PARTY.pattern}|{REPORTED_BY_OTHER.pattern}|{BELIEF.pattern}|{PARTY_DESCRIBED.pattern}"
)

# Immigration work written around a caller who named only "federal agent", "DHS"
# or "Homeland Security": it is an immigration agency calling, which one unknown.
IMMIGRATION_WORK: Final = re.compile(
    r"\b(?:IMMIGRATION\s+(?:OPERATION|OP|OPS|WARRANT|ARREST|DETAINER|TARGET|CASE|SWEEP"
    r"|ENFORCEMENT|VIOLATOR|FUGITIVE|DETAINEE|PRISONER|CUSTODY)S?"
    r"|(?:ADMIN\w*\s+)?(?:REMOVAL|DEPORTATION)\s+(?:WARRANT|ORDER|ARREST|OPERATION|OP|OPS|CASE"
    r"|TARGET)S?|(?:FINAL\s+)?ORDER\s+OF\s+(?:REMOVAL|DEPORTATION)|I-?(?:200|205|247)"
    r"|ADMIN\w*\s+WARRANT|(?:ILLEGAL|CRIMINAL|REMOVABLE)\s+ALIENS?|VISA\s+OVERSTAY\w*"
    r"|DEPORTEES?|(?:REMOVAL|DEPORTATION)\s+FLIGHTS?|DEPORTACION(?:ES)?|DEPORTATIONS|REMOVALS"
    r"|(?:FOR|PENDING|AWAITING)\s+(?:REMOVAL|DEPORTATION)|DETAINEES?"
    r"|ORDEN\s+DE\s+(?:DEPORTACION|REMOCION)|OPERATIVO\s+DE\s+INMIGRACION|LA\s+MIGRA)\b"
)

# Talk about the agency by people who are not it.
CIVILIAN_CONTEXT: Final = re.compile(
    r"\b(?:AFRAID|SCARED|FEAR\w*|WORRIED|TERRIFIED|NERVOUS|PANIC\w*|THREAT\w*|INTIMIDAT\w*"
    r"|(?:WILL|GOING\s+TO|GONNA|TO)\s+CALL\b|REPORT(?:ED)?\s+(?:HIM|HER|THEM|ME|US)\b"
    r"|TURN(?:ED)?\s+(?:HIM|HER|THEM|ME|US)\s+IN|TOOK\s+(?:MY|HER|HIS|THEIR|OUR|HIM|THEM)\b"
    r"|(?:WAS|WERE|GOT|BEEN|BEING|GETTING)\s+(?:TAKEN|DETAINED|ARRESTED|PICKED\s+UP|DEPORTED)"
    r"|(?:TAKEN|DETAINED|ARRESTED|PICKED\s+UP)\s+BY|DEPORT(?:ED|ATION|ING)?|RAID\w*"
    r"|(?:MY|OUR)\s+(?:HOUSE|DOOR|HOME|APT|APARTMENT|WORK|JOB|STREET|NEIGHBORHOOD)"
    r"|(?:MY|HER|HIS|THEIR|OUR)\s+(?:HUSBAND|WIFE|SON|DAUGHTER|MOTHER|FATHER|MOM|DAD|BROTHER"
    r"|SISTER|UNCLE|AUNT|COUSIN|BOYFRIEND|GIRLFRIEND|FAMILY|CHILD\w*|KIDS?|PARENTS?|NEPHEW"
    r"|NIECE|RELATIVES?|FIANCE\w*|PARTNER|NEIGHBOR\w*|FRIENDS?)\b"
    r"|RUMOU?R\w*|HEARD\s+(?:THAT|ABOUT|RUMOU?RS?)|ASKING\s+(?:IF|WHETHER|ABOUT|WHY|WHERE|WHAT|HOW)"
    r"|WANTS\s+TO\s+KNOW|INQUIR\w*|PROTEST\w*|RALLY|MARCH\w*|DEMONSTRAT\w*|VIGIL"
    r"|DETAINER|NCIC|HIT\s+(?:FOR|ON|RETURNED)|RETURNED\s+(?:AN?\s+)?HIT|WARRANT\s+CHECK"
    r"|RAN\s+(?:SUBJ\w*|PLATE|TAG|NAME|HIM|HER|THEM)|(?:IMMIGRATION|ICE)\s+HOLD|LAWYER|ATTORNEY"
    r"|NEWS|REPORTER|MEDIA|DRILL|EXERCISE|SEMINAR|CONFERENCE|WEARING|SIGNS?|FLYERS?|GRAFFITI"
    r"|COSTUMES?|DRESSED\s+(?:UP\s+)?AS|HALLOWEEN|TOY\s+(?:GUNS?|BADGES?)|DISFRAZ\w*"
    r"|MIEDO|TEME\w*|ASUSTAD[OA]S?|AMENAZ\w*|PREOCUPAD[OA]S?|REDADAS?|RUMORE?S?|ABOGAD[OA]S?|NOTARI[OA]S?"
    r"|(?:MI|SU|SUS|MIS)\s+(?:CASA|PUERTA|ESPOS[OA]|HIJ[OA]S?|MAMA|PAPA|MADRE|PADRE|HERMAN[OA]S?"
    r"|FAMILIA|VECIN[OA]S?|TRABAJO|NOVI[OA]|PRIM[OA]S?|TI[OA]S?)"
    r"|SE\s+LLEVARON|LLEVARON\s+A|(?:FUE|FUERON)\s+(?:DETENID|ARRESTAD|LLEVAD)[OA]S?"
    # "LA MIGRA ESTA AFUERA": someone reporting it is here, not the agency calling
    r"|ESTAN?\s+(?:AFUERA|AQUI|ALLI|AHI|EN\s+(?:MI|LA|SU)\s+(?:CASA|PUERTA|CALLE|TRABAJO|EDIFICIO))"
    r"|LLEGARON|LLEGO)\b"
)

# "caller says he is an agent" with no agency named: an ambiguous caller. Not
# "an agent with State Farm", not "an insurance agent". Found from the word itself
# (a literal the regex engine finds fast), then the words before and after it.
_AGENT_WORD: Final = re.compile(r"AG(?:ENTS?|TS?)(?![A-Z0-9])")
# "CALLER STATES HE IS A FEDERAL AGENT", before the word
_CALLER_IS: Final = re.compile(
    rf"(?<![A-Z0-9])(?:CALLER|RP|COMPL\w*|CALLING\s+PARTY|REPORTING\s+PARTY)\s+"
    rf"(?:(?:{_SAYS}|CLAIMS|CLAIMED)\s+(?:THAT\s+)?(?:(?:HE|SHE|THEY)\s+)?)?"
    r"(?:IS|ARE|WAS|AS|TO\s+BE)\s+(?:AN?\s+)?(?:(?:FEDERAL|FED|SPECIAL|GOVT|GOVERNMENT"
    r"|LAW\s+ENFORCEMENT)\s+)?$"
)
_NOT_WITH: Final = re.compile(r"\s+(?:WITH|FROM|FOR|OF|AT|W/)\b")
# "AGENT JONES ON LINE 2 REQ ...": the word opens a clause, and the agent acts
_CLAUSE_OPENS: Final = re.compile(
    r"(?:^|[;!?\n|]|(?:[;!?\n|,]|(?<![.\s][A-Z])\.)\s|CALLER\s['\"])\s*(?:\d+\s+)?$"
)
_AGENT_ACTS: Final = re.compile(rf"(?:\s+{_NAME_WORD}){{0,2}}?[ \t,:\-]*{_VERB}")


def generic_agents(upper: str) -> Iterator[tuple[int, int]]:
    """Where ``upper`` says an agent of no named agency is calling: (start, end) spans."""
    for m in _AGENT_WORD.finditer(upper):
        start, end = m.start(), m.end()
        if start and upper[start - 1].isalnum():
            continue
        word = m.group()
        if word.startswith("AGE"):
            lead = _CALLER_IS.search(upper, max(0, start - 80), start)
            if lead is not None and _NOT_WITH.match(upper, end) is None:
                yield lead.start(), end
                continue
        if _CLAUSE_OPENS.search(upper, max(0, start - 12), start) is not None:
            acts = _AGENT_ACTS.match(upper, end)
            if acts is not None:
                yield start, acts.end()


# Clause boundaries. A full stop ends a clause only after a word, so "U.S. ICE"
# and "I.C.E." stay whole.
# Nor after a dispatch abbreviation: "ICE AGT. REQ. ANY CAR" is one clause.
_ABBREVIATED: Final = (
    "AGT",
    "AGTS",
    "REQ",
    "OFC",
    "SGT",
    "ADV",
    "VEH",
    "APT",
    "GOV",
    "FED",
    "DEPT",
    "ADMIN",
    "SUBJ",
    "INV",
    "OPS",
    "SEC",
    "ENF",
    "ST",
    "SA",
    "SSA",
    "DET",
    "LT",
    "CAPT",
    "DIV",
    "APPROX",
    "BLDG",
    "HWY",
    "AVE",
    "RD",
    "LN",
    # words of agency names as dispatchers shorten them: "HOMELAND SECURITY INVEST. AGT"
    "INVEST",
    "IMMIG",
    "CUST",
    "ENFORC",
    "PROT",
    "SVCS",
    "NATL",
    "GOVT",
    "ASST",
    "SUPV",
    "INTL",
    "CO",
    "RET",
    "OFF",
)
# The dot comes first so the regex engine skips ahead to it; the checks on what
# precedes it run only there.
CLAUSE_BREAK: Final = re.compile(
    r"[;!?\n|]|\.(?=\s|$)(?<=[A-Z0-9]{2}\.)"
    + "".join(f"(?<!(?<![A-Z]){w}\\.)" for w in _ABBREVIATED)
)

# Phone numbers written in narratives: "CB 502-555-0140", "(502) 555 0140".
# Starts on a character class, so the regex engine can skip ahead cheaply; a
# leading country code 1 is left out of the match, normalisation drops it anyway.
PHONE_IN_TEXT: Final = re.compile(r"[(\d]\d{2,3}\)?[\s.-]?\d{3}[\s.-]?\d{4}(?!\d)")


_TITLE_NEAR: Final = re.compile(
    rf"[ \t/\-,:]*(?:[A-Z0-9\-]{{2,12}}\s+){{0,3}}?(?:{TITLE}|{_PLACE_TITLE}|TRANSPORT|VAN|BUS)\b"
)


def titled_near(upper: str, start: int, end: int) -> bool:
    """Whether the name at ``start:end`` is one of its people, a word or two of office
    between: "CBP OFCR", "USCIS ASC STAFF", "HSI CYBER SA"."""
    return (
        _TITLE_NEAR.match(upper, end) is not None
        or _ENDS_TITLED.search(upper, start, end) is not None
    )


def titled(upper: str, end: int) -> bool:
    """Whether a title ("AGENT", "SA", "OFFICERS") follows the name ending at ``end``."""
    return _TITLE_RE.match(upper, end) is not None


# A caller-name field that says what the caller is: "SA SMITH HSI", "JONES (ICE AGENT)".
NAME_FIELD_TITLE: Final = re.compile(
    r"(?<![A-Z0-9])(?:SUPERVISORY\s+SPECIAL\s+AGENT|SPECIAL\s+AGENT|SSA|SA|S/A|AGENTS?|AGT"
    r"|DEPORTATION\s+OFFICER|DO|SDDO|TFO|OFFICER|OFC|OFCR|CBPO|INSPECTOR)(?![A-Z0-9])"
)


# An agent's title opening the caller-name field, before a name: "SA KIM NOTREAL",
# "AGENT J. DOE", "(SA) DOE, JANE", or closing it in brackets: "DOE, JANE (SA)". A
# comma straight after the word makes it a surname ("AGENT, MARIA"), as does any
# other place in the field ("MARIA AGENT"). Not "DO", a common surname ("DO THANH"),
# nor "TFO": a local officer on some federal task force.
_AGENT_TITLE: Final = (
    r"(?:SUPERVISORY\s+SPECIAL\s+AGENT|SPECIAL\s+AGENT|SSA|SA|S/A|AGENT|AGT"
    r"|DEPORTATION\s+OFFICER|SDDO)"
)
AGENT_IN_NAME_FIELD: Final = re.compile(
    rf"\s*\(?\s*(?P<lead>{_AGENT_TITLE})\.?\s*\)?\s+[A-Z]"
    rf"|.*\(\s*(?P<trail>{_AGENT_TITLE})\s*\)\s*$"
)

# With an agent on the line, wording that makes an agency the agent's own: its
# people or office ("ICE AGENTS IN FIELD", "SERVE AT ICE OFFICE": see ``titled``),
# what it runs ("RAMMED CBP VEH", "HSI TARGET"), whom it holds now ("SUBJ IN ICE
# CUSTODY", not "PREVIOUSLY IN ICE CUSTODY"), or the request made for it ("REQ
# TRAFFIC STOP ON VEH FOR ICE, ...", "WOULD LIKE A UNIT FOR HSI", not "REQ CALL BACK
# FOR ICE TICKET").
OWN_AFTER: Final = re.compile(
    r"[ \t/\-,:]*(?:VEH(?:ICLE)?S?|CRUISERS?|OPERATIONS?|OPS|TARGETS?|FACILITY)\b"
)
_CUSTODY_AFTER: Final = re.compile(r"[ \t/\-,:]*CUSTODY\b")
_HELD_BEFORE: Final = re.compile(r"(?<![A-Z0-9])(?:IN|INTO|UNDER)\s+(?:THE\s+)?$")
_HELD_BEFORE_ONCE: Final = re.compile(
    r"(?<![A-Z0-9])(?:PREVIOUSLY|FORMERLY|PRIOR|ONCE|WAS|WERE|BEEN|RELEASED|ESCAPED)"
    r"(?:\s+[A-Z]+)?\s+(?:IN|INTO|UNDER)\s+(?:THE\s+)?$"
)
_REQUESTED_FOR: Final = re.compile(
    r"(?<![A-Z0-9])(?:REQ\w*|RQST\w*|WOULD\s+LIKE|WANTS?|NEEDS?|COULD\s+USE)\s"
    r"[^;!?\n|]{0,80}?\bFOR\s+(?:THE\s+)?(?:US\s+)?$"
)
_PHRASE_END: Final = re.compile(r"\s*(?:[,;.!?\n|]|$)")
_ENDS_TITLED: Final = re.compile(rf"(?<![A-Z0-9]){TITLE}$")

# Family in the clause: the custody is a relative's, whoever typed the name field.
KIN: Final = re.compile(
    r"\b(?:HUSBAND|WIFE|SON|DAUGHTER|MOTHER|FATHER|MOM|DAD|BROTHER|SISTER|UNCLE|AUNT|COUSIN"
    r"|BOYFRIEND|GIRLFRIEND|FIANCEE?|NEPHEW|NIECE|GRAND(?:SON|DAUGHTER|MOTHER|FATHER|MA|PA)"
    r"|CHILD\w*|KID|PARENT"
    r"|RELATIVE|FAMILY|LOVED\s+ONE|IN-LAW"
    r"|ESPOS[OA]|HIJ[OA]|HERMAN[OA]|PRIM[OA]|TI[OA]|SUEGR[OA]|YERNO|NUERA|CUNAD[OA]|SOBRIN[OA]"
    r"|NOVI[OA]|MADRE|PADRE|MAMA|PAPA|ABUEL[OA]|NIET[OA])(?:'?S)?\b"
)


def agent_title(name: str) -> str | None:
    """The agent's title the caller-name field gives the caller ("SA"), if any: only
    the title, so evidence never carries the caller's name."""
    m = AGENT_IN_NAME_FIELD.match(name.upper())
    return None if m is None else m.group("lead") or m.group("trail")


def speaks_for(upper: str, start: int, end: int, lo: int, hi: int) -> bool:
    """Whether the agency named at ``start:end`` (in the clause ``lo:hi``) is written as
    the caller's own, should the caller be an agent."""
    if KIN.search(upper, lo, hi):
        return False
    if titled(upper, end) or _ENDS_TITLED.search(upper, start, end) is not None:
        return True  # "ICE AGENTS", "ICE OFFICE", "BORDER PATROL AGENTS"
    if OWN_AFTER.match(upper, end) is not None:
        return True
    if _CUSTODY_AFTER.match(upper, end) is not None:
        return (
            _HELD_BEFORE.search(upper, lo, start) is not None
            and _HELD_BEFORE_ONCE.search(upper, lo, start) is None
        )
    return (
        _PHRASE_END.match(upper, end) is not None
        and _REQUESTED_FOR.search(upper, lo, start) is not None
    )


# What may come before an agency named as the subject of its clause: nothing, an
# article, the caller's marker, a unit number, "REQ FROM": "HSI CYBER CRIMES REQ ...",
# "THE ICE FRONT DESK REQ ...", "LLAMA AGENTE DE ERO".
SUBJECT_LEAD: Final = re.compile(
    r"[\s,:\-(\[]*(?:(?:THE|US|U\.S\.|EL|LA|LOS|LAS|CALLER|RP|LLAMA\w*|REQ(?:UEST)?\s+FROM"
    r"|CALL\s+FROM|TRANSFER\s+FROM|\d+)[\s,:\-(\[]*)*"
)

# An agency that opens its clause, then a few words of where or which office, then
# what a caller opens with: "ICE OFC SUPV 7TH ST REQ UNITS", "ICE ERO LOUISVILLE
# REQUESTING", "OFO SUPERVISOR AT THE PORT OF ENTRY (WORLDPORT) REPORTS". Only for the
# clause's subject (``SUBJECT_LEAD``): in mid-clause the same words are someone
# talking about the agency. Never across another speaker ("..., CALLER STATES").
_OPENING_VERB: Final = (
    r"(?:REQ\w*|RQST\w*|ADV\w*|ASK\w*|NEED\w*|WANTS?|CALLING|STATES|STATING|SAYS|REPORT(?:S|ING)"
    r"|RPT(?:S|G|ING)?|ON\s+(?:THE\s+)?(?:LINE|LN|PHONE)|PIDEN?|SOLICITA\w*|INFORMA\w*|DICEN?)\b"
)
SUBJECT_ACTS: Final = re.compile(
    r"(?:[\s,:/\-]+(?!(?:CALLER|RP|COMPL\w*|WHO|THAT|WHICH|HE|SHE|THEY|SUBJ\w*|SUSP\w*)\b)"
    r"(?:\([^()]{1,40}\)|[A-Z0-9#'.&]+)){0,10}?[\s,:\-]*" + _OPENING_VERB
)

# Words after an opening agency that still make the caller a civilian: their own home
# and people, fear, rumours. Not the incident's words ("PROTESTERS", "THREATS", "ASKING IF").
CIVILIAN_SPEAKS: Final = re.compile(
    r"(?:MY|OUR|MI|MIS|AFRAID|SCARED|FEAR|WORRIED|TERRIFIED|NERVOUS|PANIC|RUMOU?R|HEARD|MIEDO"
    r"|TEME|ASUSTAD|PREOCUPAD|RAID|REDADA|DEPORT|TURN|REPORTED|TOOK|SE\s+LLEVARON)"
)

# A mention in brackets that says where something is, not who calls: "THE FEDERAL
# BUILDING (THE ONE W/ THE USCIS OFFICE IN IT)".
PLACE_ASIDE: Final = re.compile(
    r"\(\s*(?:THE\s+ONE|WHERE|WHICH|THAT\s+HAS|THAT\s+HOUSES|HOUSES|HOME\s+OF|W/|WITH)\b[^()]{0,40}$"
)

# A guard at the agency's building: the agency's own, or a contractor's, or a firm's:
# "SECURITY GUARD AT THE ICE OFFICE SAYS", "GUARDIA DE SEGURIDAD EN LA OFICINA DE USCIS".
GUARD_AT: Final = re.compile(
    r"(?<![A-Z0-9])(?:(?:SECURITY|CONTRACT(?:\s+SECURITY)?)\s+)?(?:GUARDS?|GUARDIAS?(?:\s+DE\s+SEGURIDAD)?"
    r"|SECURITY(?:\s+OFFICERS?)?|SEGURIDAD)\s+(?:AT|IN|EN|DE|OF)\s+(?:THE\s+|LA\s+|EL\s+)?"
    r"(?:[A-Z'\-]+\s+){0,3}?(?:(?:DE|OF)\s+(?:LA\s+|EL\s+)?)?$"
)

# Said not to be part of it: "NO IMMIGRATION REQUEST", "NO ICE INVOLVEMENT", "NOT AN ICE
# MATTER", "SIN PARTICIPACION DE ICE": the words after the name say what is absent.
NEGATED_BEFORE: Final = re.compile(r"(?<![A-Z0-9])(?:NO|NOT\s+AN?|NOT|WITHOUT|NI|SIN)\s+$")
NEGATED_AFTER: Final = re.compile(
    r"\s+(?:REQ\w*|INVOLVE\w*|NEXUS|MATTER|CASE|ISSUE|INTEREST|HOLD|DETAINER|PRESENCE|ON\s+SCENE"
    r"|AGENTS?\s+(?:ON\s+SCENE|PRESENT|INVOLVED))\b"
)

# The narrative opens with an agency and one of its people ("ICE OFFICERS W/ A DETAINEE
# AT ...", "HSI AGENT W/ LACERATION ...", "USCIS ASC STAFF: ..."): the call-taker typed
# the caller first. A request anywhere in it ("... . REQ EMS AND A CAR") is the caller's,
# unless the text names someone else as the one speaking.
ANY_REQUEST: Final = re.compile(
    r"(?<![A-Z0-9])(?:REQ\w*|RQST\w*|NEEDS?|WANTS?|COULD\s+USE|ASKING\s+FOR|PIDEN?"
    r"|SOLICITA\w*|NECESITA\w*|WONDERING\s+IF|ASKING\s+(?:IF|WHETHER)|CAN\s+(?:WE|THEY|YOU)\s+"
    r"(?:GET|SEND|HAVE)|HELP\s+US)(?![A-Z0-9])"
)
OTHER_SPEAKER: Final = re.compile(
    r"(?<![A-Z0-9])(?:PER\s+(?:THE\s+)?(?:CALLER|RP|COMPL\w*|WITNESS\w*|NEIGHBOR\w*)"
    r"|(?:CALLER|RP|COMPL\w*|WITNESS\w*|NEIGHBOR\w*|BYSTANDER\w*|CITIZEN|CIVILIAN|RESIDENT"
    r"|EMPLOYEE|MANAGER|CLERK|GUARD|SECURITY)S?\s+(?:STATES|STATED|SAYS|SAID|ADV\w*|REPORT\w*"
    r"|RPTS?|CALLED|CALLING|SAW|SEES|SEEN|HEARD)"
    r"|3RD\s+PARTY|THIRD\s+PARTY|(?<![A-Z])(?:HE|SHE|THEY)\s+(?:SAW|SEES|HEARD|WITNESSED))(?![A-Z0-9])"
)


# A firm's name that starts with an agency's letters: "H.S.I. HEATING & SHEET IRON CO.",
# "ICE HOUSE LLC". A company suffix within a few words after the name, nothing between
# that ends a phrase.
FIRM_AFTER: Final = re.compile(
    r"(?:[ \t&.\-]+(?!(?:AT|IN|ON|OF|FROM|TO|BY|FOR|CUSTODY|OFFICE|AGENTS?|AGTS?)\b)"
    r"[A-Z][A-Z'&.\-]*){0,4}?[ \t,.]+(?:CO|INC|LLC|LTD|CORP|COMPANY|CORPORATION"
    # "CBP FREIGHT (TRUCKING COMPANY)": a carrier's name
    r"|FREIGHT|LOGISTICS|TRUCKING|HAULING|SOLUTIONS)"
    r"(?![A-Z0-9])(?=\.|\s*(?:[,;:()'\"]|$)|\s+(?:TRUCKS?|TRAILERS?|DRIVERS?|EMPLOYEES?|DISPATCH\w*"
    r"|OWNER|MANAGER|LOT|YARD|WAREHOUSE|NOTARIO|OFFICE)\b)"
)


# The cases HSI works that a DHS caller names: with DHS as the caller, it is HSI.
HSI_WORK: Final = re.compile(
    r"\b(?:HUMAN\s+TRAFFICKING|LABOR\s+TRAFFICKING|SEX\s+TRAFFICKING|CHILD\s+EXPLOITATION|CSAM"
    r"|COUNTERFEIT\w*|SMUGGL\w*|CONTROLLED\s+DELIVERY|TRATA\s+DE\s+PERSONAS)\b"
)


def titled_name_acts(upper: str, start: int, end: int, hi: int) -> re.Match[str] | None:
    """A name that ends in a title, then the person's name, then what they do:
    "DEPORTATION OFFICER GARZA REQ 2 CARS"."""
    if _ENDS_TITLED.search(upper, start, end) is None:
        return None
    return _AGENT_ACTS.match(upper, end, hi)


# The caller, not someone else, is off duty or on a private matter: "RP ADV SHE IS OFF
# DUTY", "NOT WORK RELATED". Whatever agency the caller works for is not calling.
CALLER_OFF_DUTY: Final = re.compile(
    r"(?<![A-Z0-9])(?:RP|CALLER|HE|SHE|THEY|I)\s+(?:[A-Z]+\s+){0,2}?(?:IS|WAS|ARE|AM)\s+"
    r"(?:CURRENTLY\s+|NOW\s+)?OFF[\s-]?DUTY\b|\bNOT\s+(?:WORK|JOB|DUTY)[\s-]RELATED\b"
)

# A list of agencies in a group: "TF (LMPD/KSP/HSI TFOS)", "MULTI-AGENCY INCL HSI, DEA, LMPD".
# Brackets after a group's name only: "DET R. KING (LMPD, HSI TFO)" is one person's badges.
_GROUP_NOUN: Final = re.compile(
    r"(?<![A-Z0-9])(?:TASK\s+FORCE|STRIKE\s+FORCE|TF|TEAM|GRP|GROUP|SQUAD|MULTI[\s-]?AGENCY"
    r"|HIDTA|INITIATIVE|COALITION|JOINT\s+\w+)\s*$"
)
_GROUP_LEAD: Final = re.compile(
    r"(?:MULTI[\s-]?AGENCY|INCL\w*|INCLUDING|MEMBERS?|JOINT)[\s:,]+(?:[A-Z0-9/,&' .\-]+)?$"
)


_GROUP_WORDS: Final = ("(", "INCL", "MULTI", "MEMBER", "JOINT")


def may_list_agencies(upper: str) -> bool:
    """A cheap first look: can ``upper`` hold a list of agencies at all?"""
    return any(w in upper for w in _GROUP_WORDS)


def agency_group(upper: str, start: int, end: int) -> tuple[int, int] | None:
    """The span of the bracketed list, or the list after "INCL"/"MULTI-AGENCY", that the
    name at ``start:end`` is one item of; None if it stands alone."""
    opening = upper.rfind("(", max(0, start - 60), start)
    if (
        opening >= 0
        and upper.find(")", opening, start) < 0
        and _GROUP_NOUN.search(upper, max(0, opening - 20), opening) is not None
    ):
        closing = upper.find(")", end, end + 60)
        if closing >= 0:
            inside = upper[opening + 1 : closing]
            if "/" in inside or "," in inside or " AND " in inside or "&" in inside:
                return opening + 1, closing
    lead = _GROUP_LEAD.search(upper, max(0, start - 40), start)
    if lead is not None:
        stop = _LIST_END.search(upper, end)
        return lead.start(), stop.start() if stop is not None else len(upper)
    return None


_LIST_END: Final = re.compile(r"[);!?\n|]|\s(?:REQ\w*|ADV\w*|ASK\w*|NEED\w*)\b")
