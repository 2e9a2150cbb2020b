"""Partner departments and what each is entitled to receive (minimal disclosure).

A partner gets only the event types listed for it, and of each only the listed data fields; the
partner feed (gateway.partner_feed) projects every event through this table before it reaches the
partner's queue `partner.<code>`. Partners report their matter steps back through the gateway's
partner API.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Partner",
    "PARTNERS",
    "BANKS",
    "CARE_DEVICES",
    "CARE_PROVIDERS",
    "partner",
    "entitled_fields",
    "project_for_partner",
]

BANKS = "banks"  # the paying bank (社会化发放): payment files out, each payment's outcome back
CARE_PROVIDERS = "care_providers"  # the home-care providers' platform: care's orders, charity's time bank
CARE_DEVICES = "care_devices"  # the wearable-device platforms: emergency calls from registered devices


@dataclass(frozen=True)
class Partner:
    code: str
    title: str
    entitlements: dict  # event type -> tuple of data fields (dotted paths) the partner may see
    may_query_marital_status: bool = False
    # Several organisations act under this code, each only on what is its own: their tokens name
    # the organisation (claim `org`), and a token without one is refused.
    organisations: bool = False


# What a department needs to grant a 救助一件事 linked item: who, where, which programme, from when.
_APPROVAL_FIELDS = ("application_id", "household_id", "programme", "starts_on", "region_code", "members")
# What a department needs to act on a death (身后一件事), to undo it when the notice is revoked, and
# to take it again with the date a clerk confirmed; not the clerk's free-text reason for the
# revocation or the correction, which may name other people.
_DEATH_FIELDS = ("case_id", "resident_id", "name", "date_of_death")
_REVOKED_FIELDS = ("case_id", "resident_id", "date_of_death")
_CORRECTED_FIELDS = ("case_id", "resident_id", "date_of_death", "previous_date_of_death", "revision")

PARTNERS: dict[str, Partner] = {
    p.code: p
    for p in (
        Partner(
            "health",
            "卫健 health commission",
            {
                "marriage.registered": (
                    "registration_id",
                    "registered_on",
                    "party_a.resident_id",
                    "party_a.name",
                    "party_b.resident_id",
                    "party_b.name",
                ),
            },
        ),
        Partner(
            "police",
            "公安 police (hukou)",
            {
                "marriage.registered": (
                    "registration_id",
                    "registered_on",
                    "party_a.resident_id",
                    "party_a.name",
                    "party_b.resident_id",
                    "party_b.name",
                ),
                "marriage.divorce_registered": (
                    "divorce_id",
                    "registered_on",
                    "party_a.resident_id",
                    "party_b.resident_id",
                ),
                "birth.notified": ("birth_id", "child", "mother_resident_id", "father_resident_id"),
                # household registers record the certificate in force
                "marriage.certificate_reissued": ("registration_id", "old_certificate_number", "certificate_number"),
                # 收养: the child's hukou moves to the adopters'; back when the adoption is dissolved
                "adoption.registered": ("adoption_id", "registered_on", "adopters", "adoptee"),
                "adoption.dissolved": ("adoption_id", "dissolved_on", "adopters", "adoptee"),
                "death.notified": _DEATH_FIELDS,  # 户口注销
                "death.revoked": _REVOKED_FIELDS,
                "death.date_corrected": _CORRECTED_FIELDS,
            },
            may_query_marital_status=True,
        ),
        Partner(
            "medical_insurance",
            "医保 medical insurance",
            {
                "birth.notified": ("birth_id", "child", "mother_resident_id"),
                "assistance.approved": _APPROVAL_FIELDS,
                # 医疗救助 follows the household's assistance status
                "assistance.entitlement_ended": ("household_id", "programme", "ends_on", "reason"),
                "assistance.entitlement_resumed": ("household_id", "programme", "resumed_from"),
                "death.notified": _DEATH_FIELDS,  # 医保账户注销
                "death.revoked": _REVOKED_FIELDS,
                "death.date_corrected": _CORRECTED_FIELDS,
            },
        ),
        # The paying bank (社会化发放) receives payment batches as files, not events, and reports each
        # payment's outcome through the partner API.
        Partner(BANKS, "代发银行 paying bank", {}),
        # The wearable-device platforms (智慧养老平台) report emergency calls through the partner API;
        # each platform raises calls only from the devices it operates (its token's `org` is the
        # platform a device is registered with), for the person the device is registered to.
        Partner(CARE_DEVICES, "智慧养老平台 wearable-device platforms", {}, organisations=True),
        # The platform home-care providers (居家养老服务机构) take their orders from; each provider acts
        # on its own orders only (its token's `org` is the order's `provider`).
        Partner(
            CARE_PROVIDERS,
            "居家养老服务机构 home-care providers",
            {
                "care.order_requested": ("order_id", "service", "provider", "region_code", "price_fen"),
            },
            organisations=True,
        ),
        # 人社: employment help of 救助一件事; after a death the pension stops and survivors' benefits start
        Partner(
            "human_resources",
            "人社 human resources and social security (就业救助, 养老金, 遗属待遇)",
            {
                "assistance.approved": _APPROVAL_FIELDS,
                "death.notified": _DEATH_FIELDS,
                "death.revoked": _REVOKED_FIELDS,
                "death.date_corrected": _CORRECTED_FIELDS,
            },
        ),
        *(
            Partner(code, title, {"assistance.approved": _APPROVAL_FIELDS})
            for code, title in (
                ("education", "教育 education (教育救助)"),
                ("housing", "住建 housing (住房救助)"),
                ("water", "水务 water utility (水费减免)"),
                ("electricity", "电力 power utility (电费减免)"),
                ("gas", "燃气 gas utility (燃气补贴)"),
                ("development_reform", "发改 development and reform (价格临时补贴)"),
                ("justice", "司法 justice (法律援助)"),
                ("telecom", "通信 telecom operators (资费优惠)"),
                ("broadcasting", "广电 cable television (收视费减免)"),
                ("transport", "交通 public transport (公交优惠)"),
            )
        ),
    )
}


def partner(code: str) -> Partner:
    return PARTNERS[code]


def entitled_fields(partner_code: str, event_type: str) -> tuple[str, ...] | None:
    return PARTNERS[partner_code].entitlements.get(event_type)


def project_for_partner(data: dict, paths: tuple[str, ...]) -> dict:
    """Copy only the listed dotted paths of `data` (minimal disclosure); absent paths are skipped."""
    out: dict = {}
    for path in paths:
        *parents, leaf = path.split(".")
        source: object = data
        for key in parents:
            source = source.get(key) if isinstance(source, dict) else None
        if not isinstance(source, dict) or leaf not in source:
            continue
        target = out
        for key in parents:
            target = target.setdefault(key, {})
        target[leaf] = source[leaf]
    return out
