"""``jointsat partner`` and ``jointsat agreement``: the consortium's members and their terms."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from jointsat.cli import remote
from jointsat.cli.output import Column, Format, FormatOption, emit_one
from jointsat.cli.remote import Place
from jointsat.errors import JointsatError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

partner_app = typer.Typer(
    name="partner", help="List, show, add, change and remove partners.", no_args_is_help=True
)
agreement_app = typer.Typer(
    name="agreement",
    help="List, show and set partners' agreements (share, priority, embargo).",
    no_args_is_help=True,
)

PartnerRef = Annotated[str, typer.Argument(metavar="PARTNER", help="The partner's code or id.")]


def _never(days: int | None) -> int | str:
    return "never" if days is None else days


PARTNER_COLUMNS = [
    Column("id", "id", "whole"),
    Column("code", "code", "whole"),
    Column("name", "name"),
    Column("contribution_share", "contribution", "number"),
]
AGREEMENT_COLUMNS = [
    Column("partner_id", "partner", "whole"),
    Column("share", "share", "number"),
    Column("share_is_contribution", "share is contribution", "whole", drop=1),
    Column("priority_class", "priority", "number"),
    Column("embargo_days", "embargo d", "number"),
    Column("public_release_days", "public d", "number", lambda a: _never(a["public_release_days"])),
    Column("station_visibility", "stations", "whole"),
    Column("satellite_visibility", "satellites", "whole"),
    Column("analyses", "on ingest", "text", lambda a: ", ".join(a["analyses"]), drop=2),
]


def _partners(session: Session) -> list[dict[str, Any]]:
    """Return every partner in the store as the API shows it."""
    from jointsat.service.routes.partners import PartnerPublic
    from jointsat.store.consortium import partners

    return [remote.shown(PartnerPublic, p) for p in partners(session)]


PARTNERS = remote.Kind("partner", "/partners", _partners, ("code", "id"), PARTNER_COLUMNS)
"""The consortium's partners, named by code (else id)."""
PARTNERS.commands(partner_app, "List the consortium's partners.", (PartnerRef, "Show one partner."))


@remote.command(partner_app, "add")
def partner_add(
    place: Place,
    code: Annotated[str, typer.Argument(help="Short code: lower-case letters, digits, - and _.")],
    name: Annotated[str, typer.Option("--name", help="Its full name (unique).")],
    share: Annotated[float, typer.Option("--share", help="Its contribution share, in (0, 1].")],
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Add a partner (its agreement starts from the defaults)."""
    body = {"code": code, "name": name, "contribution_share": share}
    with place.work() as where:
        found = PARTNERS.create(where, body, _add_partner)
    emit_one(found, PARTNER_COLUMNS, fmt)


def _add_partner(session: Session, body: dict[str, Any]) -> dict[str, Any]:
    """Add a partner to the store (see :data:`remote.Add`)."""
    from jointsat.service.routes.partners import PartnerCreate, PartnerPublic
    from jointsat.store.consortium import add_partner

    row = add_partner(session, **remote.checked(PartnerCreate, body).model_dump())
    remote.committed(
        session, f"code {body['code']!r} or name {body['name']!r} clashes with an existing partner"
    )
    return remote.shown(PartnerPublic, row)


@remote.command(partner_app, "update")
def partner_update(
    place: Place,
    partner: PartnerRef,
    name: Annotated[str | None, typer.Option("--name", help="Its new name.")] = None,
    share: Annotated[
        float | None, typer.Option("--share", help="Its new contribution share, in (0, 1].")
    ] = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Change a partner's name or contribution share."""
    body: dict[str, Any] = {"name": name, "contribution_share": share}
    body = {k: v for k, v in body.items() if v is not None}
    if not body:
        raise typer.BadParameter("give --name or --share (or both)", param_hint="'--name'")
    PARTNERS.change(place, partner, body, _change_partner, fmt)


def _change_partner(session: Session, ident: int, body: dict[str, Any]) -> dict[str, Any]:
    """Change a partner in the store (see :data:`remote.Change`)."""
    from jointsat.service.routes.partners import PartnerPublic, PartnerUpdate
    from jointsat.store.consortium import change_partner
    from jointsat.store.tables import Partner

    changes = remote.checked(PartnerUpdate, body).model_dump(exclude_unset=True)
    row = session.get_one(Partner, ident)
    change_partner(row, changes)
    remote.committed(session, f"name {body.get('name')!r} clashes with an existing partner")
    return remote.shown(PartnerPublic, row)


@remote.command(partner_app, "remove")
def partner_remove(place: Place, partner: PartnerRef) -> None:
    """Remove a partner that owns no station, satellite share, request or plan."""
    PARTNERS.remove(place, partner, _remove_partner)


def _remove_partner(session: Session, ident: int) -> None:
    """Remove a partner from the store, unless something of the store needs it."""
    from jointsat.store.tables import Partner

    session.delete(session.get_one(Partner, ident))
    remote.committed(
        session,
        f"partner {ident} still owns stations, satellite shares, "
        "observation requests or planned observations",
    )


# --- agreements ---------------------------------------------------------------------------


def _agreements(session: Session) -> list[dict[str, Any]]:
    """Return every agreement in the store as the API shows it."""
    from jointsat.service.routes.agreements import public
    from jointsat.store.consortium import agreements

    return [remote.json_of(public(a)) for a in agreements(session)]


AGREEMENTS = remote.Kind(
    "agreement",
    "/agreements",
    _agreements,
    ("partner_id",),
    AGREEMENT_COLUMNS,
    resolve=lambda where, ref: str(PARTNERS.ident(where, ref)),
)
"""The partners' agreements, each named by its partner (code or id)."""
AGREEMENTS.commands(
    agreement_app, "List every partner's agreement.", (PartnerRef, "Show a partner's agreement.")
)


NEVER = "never"
CONTRIBUTION = "contribution"


@remote.command(agreement_app, "set")
def agreement_set(
    place: Place,
    partner: PartnerRef,
    share: Annotated[
        str | None,
        typer.Option(
            "--share",
            metavar="FRACTION",
            help=f"Its share of the network, in (0, 1]; '{CONTRIBUTION}': its contribution.",
        ),
    ] = None,
    priority: Annotated[
        int | None, typer.Option("--priority", help="Its priority class (0 to 1000).")
    ] = None,
    embargo_days: Annotated[
        int | None,
        typer.Option("--embargo-days", help="Days its products stay its own after acquisition."),
    ] = None,
    public_release_days: Annotated[
        str | None,
        typer.Option(
            "--public-release-days",
            metavar="DAYS",
            help=f"Days after acquisition when its products become public; '{NEVER}'.",
        ),
    ] = None,
    station_visibility: Annotated[
        str | None,
        typer.Option(help="Who sees its stations: private, consortium or public."),
    ] = None,
    satellite_visibility: Annotated[
        str | None,
        typer.Option(help="Who sees its satellites: private, consortium or public."),
    ] = None,
    on_ingest: Annotated[
        str | None,
        typer.Option(
            "--on-ingest",
            metavar="PIPELINE,...",
            help="Analysis pipelines run on each of its products as it is archived "
            "(e.g. transits,ndvi; '' for none).",
        ),
    ] = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Change a partner's agreement; its products' release times follow."""
    body: dict[str, Any] = {}
    if share is not None:
        body["share"] = None if share == CONTRIBUTION else _number(share, "--share", float)
    if priority is not None:
        body["priority_class"] = priority
    if embargo_days is not None:
        body["embargo_days"] = embargo_days
    if public_release_days is not None:
        body["public_release_days"] = (
            None
            if public_release_days == NEVER
            else _number(public_release_days, "--public-release-days", int)
        )
    if station_visibility is not None:
        body["station_visibility"] = station_visibility
    if satellite_visibility is not None:
        body["satellite_visibility"] = satellite_visibility
    if on_ingest is not None:
        body["analyses"] = [name.strip() for name in on_ingest.split(",") if name.strip()]
    if not body:
        raise typer.BadParameter("give at least one term to change", param_hint="'--share'")
    with place.work() as where:
        found = AGREEMENTS.update(where, PARTNERS.ident(where, partner), body, _change_agreement)
    emit_one(found, AGREEMENT_COLUMNS, fmt)


def _change_agreement(session: Session, ident: int, body: dict[str, Any]) -> dict[str, Any]:
    """Change a partner's agreement in the store (see :data:`remote.Change`)."""
    from jointsat.service.routes.agreements import AgreementUpdate, public
    from jointsat.store.consortium import agreement, change_agreement

    changes = remote.checked(AgreementUpdate, body).model_dump(exclude_unset=True)
    row = agreement(session, ident)
    if row is None:
        raise JointsatError(f"no agreement for partner id {ident}")
    change_agreement(session, row, changes)
    session.commit()
    return remote.json_of(public(row))


def _number(text: str, option: str, kind: type[float] | type[int]) -> float | int:
    try:
        return kind(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a number", param_hint=f"'{option}'") from None
