"""``jointsat archive``: archive downlinked products, list them, fetch them verified."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import typer
from rich.console import Console
from rich.markup import escape

from jointsat.archive.blobs import BlobStore
from jointsat.archive.metadata import metadata_from_dict
from jointsat.archive.restore import FileSource, restore
from jointsat.archive.rights import Caller
from jointsat.cli import common
from jointsat.cli.common import DatabaseUrl
from jointsat.cli.output import Column, Format, FormatOption, emit_rows
from jointsat.errors import ArchiveInputError, ArchiveStorageError, JointsatError
from jointsat.files import read_text
from jointsat.jsonfile import Reader
from jointsat.timelib import format_iso, format_readable, parse_iso, read_iso

archive_app = typer.Typer(
    name="archive",
    help="Archive downlinked products, list them, fetch them with their checksums verified.",
    no_args_is_help=True,
)

# The ingest options that give a metadata field, and the field each gives.
_METADATA_OPTIONS = {
    "satellite": "--satellite",
    "instrument": "--instrument",
    "acquired_start": "--start",
    "acquired_end": "--end",
    "processing_level": "--level",
}


@contextmanager
def _archive_input_errors(errors: Console, source: str) -> Iterator[None]:
    """Turn refused metadata into one red line naming ``source`` and the field, status 2."""
    try:
        yield
    except ArchiveInputError as exc:
        where = exc.source if exc.source != "<string>" else source
        message = f"{where} {exc.location}".strip() + f": {exc.reason}"
        errors.print(f"[red]error:[/] {escape(message)}", soft_wrap=True, highlight=False)
        raise typer.Exit(2) from None


def _same_field(name: str, in_file: Any, given: Any) -> bool:
    """Return whether the metadata file's value of a field is the option's value."""
    if name == "satellite":
        return not isinstance(in_file, bool) and in_file == given
    if isinstance(given, datetime):
        if not isinstance(in_file, str):
            return False
        try:
            moment = read_iso(in_file, verbatim=True)
        except ValueError:
            return False
        return moment.tzinfo is not None and moment == given
    return isinstance(in_file, str) and in_file.strip() == str(given).strip()


def _ingest_metadata(metadata_file: Path | None, given: dict[str, Any]) -> Any:
    """Return the checked metadata of the file and options; a field given twice must agree."""
    source = "the metadata" if metadata_file is None else str(metadata_file)
    document: dict[str, Any] = {}
    if metadata_file is not None:
        loaded = Reader(source, ArchiveInputError).json(read_text(metadata_file))
        if not isinstance(loaded, dict):
            raise ArchiveInputError("the metadata must be a JSON object", source=source)
        document = loaded
    for name, value in given.items():
        if value is None:
            continue
        if name in document and not _same_field(name, document[name], value):
            shown = format_iso(value) if isinstance(value, datetime) else value
            raise ArchiveInputError(
                f"{name}: the file gives {document[name]!r}, "
                f"{_METADATA_OPTIONS[name]} gives {shown!r}",
                source=source,
            )
        document[name] = value
    try:
        return metadata_from_dict(document)
    except ArchiveInputError as exc:
        raise ArchiveInputError(exc.reason, source=source) from None


@archive_app.command("ingest")
def archive_ingest(
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="PATH...",
            exists=True,
            dir_okay=False,
            help="Files to archive, each one product of one file.",
        ),
    ],
    satellite: Annotated[
        int,
        typer.Option(
            "--satellite", min=1, metavar="NORAD", help="Catalog number of the acquiring satellite."
        ),
    ],
    metadata_file: Annotated[
        Path | None,
        typer.Option(
            "--metadata",
            metavar="FILE",
            exists=True,
            dir_okay=False,
            help="A metadata JSON object (docs/cli.md) applied to every PATH; a field it shares "
            "with an option must agree with it.",
        ),
    ] = None,
    instrument: Annotated[
        str | None, typer.Option(metavar="NAME", help="The instrument (field instrument).")
    ] = None,
    start: Annotated[
        datetime | None, common.time_option("Start of the acquisition (acquired_start).")
    ] = None,
    end: Annotated[
        datetime | None, common.time_option("End of the acquisition (acquired_end).")
    ] = None,
    level: Annotated[
        str | None,
        typer.Option(
            "--level", metavar="LEVEL", help="Processing level (processing_level; default L0)."
        ),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Archive each file as a product; print `<id> <sha256> <path>` once it is durable.

    Each line is printed when the product's record is committed, before the next
    file is read: a printed product survives whatever happens after. Ingesting the
    same bytes of the same satellite again prints the same id. Bad metadata stops
    with status 2 before anything is stored; a file refused (its bytes archived already
    with other metadata) stops with status 2, the products printed before it staying.
    """
    from jointsat.archive.ingest import check_ingest, store_archive, store_file

    errors = Console(stderr=True)
    given = {
        "satellite": satellite,
        "instrument": instrument,
        "acquired_start": start,
        "acquired_end": end,
        "processing_level": level,
    }
    moment = common.now()
    with common.reporting_errors(errors), common.store_errors():
        with _archive_input_errors(errors, "the metadata"):
            metadata = _ingest_metadata(metadata_file, given)
        created = 0
        made: list[str] = []
        with common.store_session(database_url) as session:
            store = store_archive(common.store_settings(database_url), session)
            # The satellite, owners and contact are checked before any file is stored.
            with _archive_input_errors(errors, "the metadata"):
                ingest = check_ingest(session, metadata, user=None)
            for done, path in enumerate(paths):
                with _archive_input_errors(errors, str(path)):
                    try:
                        stored = store_file(store, path)
                    except OSError as exc:
                        raise JointsatError(
                            f"{path}: cannot read the file ({exc.strerror or exc}); "
                            f"{done} product(s) archived before it"
                        ) from None
                    product, new = ingest.record(session, [stored], now=moment)
                typer.echo(f"{product.id} {stored.blob.sha256} {path}")
                sys.stdout.flush()
                created += new
                if new:
                    made.append(product.id)
        errors.print(
            f"{len(paths)} product(s) archived in {escape(str(store.root))}, {created} new",
            highlight=False,
            soft_wrap=True,
        )
        _analyse_new(made, database_url, errors)


def _analyse_new(product_ids: list[str], database_url: str | None, errors: Console) -> None:
    """Run the analyses the new products' owners' agreements asked for at ingest."""
    from jointsat.archive.rights import Caller
    from jointsat.store.analyses import visible_runs
    from jointsat.store.tables import StudyStatus

    with common.store_session(database_url) as session:
        waiting = {
            r.id
            for ident in product_ids
            for r in visible_runs(
                session, Caller(admin=True), common.now(), status=StudyStatus.QUEUED, product=ident
            )
        }
    if waiting:
        errors.print(f"running the {len(waiting)} analysis run(s) the agreements ask for at ingest")
        from jointsat.cli.analyse import queued

        queued(only=sorted(waiting), database_url=database_url)


def _end_text(product: dict[str, Any]) -> str:
    """Return an acquisition's end: its time of day when it ends on the day it began."""
    start, end = parse_iso(product["acquired_start"]), parse_iso(product["acquired_end"])
    return format_readable(end)[11:] if start.date() == end.date() else format_readable(end)


def _files_text(key: str, shown: Callable[[Any], str]) -> Callable[[Any], str]:
    return lambda product: "\n".join(shown(f[key]) for f in product["files"])


LIST_COLUMNS = (
    # The id `archive get` needs, the satellite and the acquisition's start always show;
    # the others as the terminal's width allows (the checksum shortened: JSON and CSV
    # have it whole).
    Column("id", "id", "whole"),
    Column("satellite", "NORAD", "number"),
    Column("instrument", "instrument"),
    Column("processing_level", "level", drop=3),
    Column("acquired_start", "start (UTC)", "time"),
    Column("acquired_end", "end", "whole", _end_text, drop=2),
    Column("owners", "owners", drop=1),
    Column("files", "file", shown=_files_text("name", str), drop=4),
    Column("size_bytes", "bytes", "number", _files_text("size_bytes", "{:,}".format), drop=5),
    Column("sha256", "SHA-256", "whole", _files_text("sha256", lambda h: h[:12] + "…"), drop=6),
)
CSV_COLUMNS = tuple(
    Column(key)
    for key in (
        "id",
        "satellite",
        "satellite_name",
        "instrument",
        "processing_level",
        "acquired_start",
        "acquired_end",
        "owners",
        "members_from",
        "public_from",
        "ingested_at",
        "file_name",
        "sha256",
        "size_bytes",
        "media_type",
    )
)
"""The CSV of ``archive list``: one line per file, its product's fields repeated."""


@archive_app.command("list")
def archive_list(
    output_format: FormatOption = Format.TABLE, database_url: DatabaseUrl = None
) -> None:
    """List every archived product: id, files and checksums, satellite, acquisition, owners.

    The command line has the whole store, so it lists every product whatever its
    embargo, oldest acquisition first. The table shows what fits the terminal (the
    product's id and acquisition always); --format json or csv give every field.
    """
    from sqlalchemy import select

    from jointsat.store.products import search
    from jointsat.store.tables import Partner

    with common.reporting_errors(Console(stderr=True)), common.store_errors():
        with common.store_session(database_url) as session:
            codes = {i: code for i, code in session.execute(select(Partner.id, Partner.code))}
            products = list(session.scalars(search(Caller(admin=True), common.now())))
            documents: list[dict[str, Any]] = [
                {
                    "id": p.id,
                    "satellite": p.satellite.norad_id,
                    "satellite_name": p.satellite.name,
                    "instrument": p.instrument,
                    "processing_level": p.processing_level,
                    "acquired_start": format_iso(p.acquired_start),
                    "acquired_end": format_iso(p.acquired_end),
                    "owners": [codes[o] for o in p.owner_ids],
                    "members_from": format_iso(p.members_from),
                    "public_from": None if p.public_from is None else format_iso(p.public_from),
                    "ingested_at": format_iso(p.ingested_at),
                    "derived_from": p.source_ids,
                    "files": [
                        {
                            "name": f.name,
                            "sha256": f.sha256,
                            "size_bytes": f.size_bytes,
                            "media_type": f.media_type,
                        }
                        for f in p.files
                    ],
                }
                for p in products
            ]
        per_file = [
            {**d, **{k: v for k, v in f.items() if k != "name"}, "file_name": f["name"]}
            for d in documents
            for f in d["files"]
        ]
        emit_rows(
            documents,
            LIST_COLUMNS,
            output_format,
            title=f"{len(documents)} archived product(s)",
            csv_records=per_file,
            csv_columns=CSV_COLUMNS,
        )


AUDIT_FIELDS = (
    "id",
    "at",
    "user_id",
    "user_name",
    "partner_id",
    "action",
    "product_id",
    "file_name",
    "outcome",
    "bytes_sent",
    "detail",
    "count",
    "client",
)
"""An audit entry's fields, as ``GET /api/v1/products/audit`` names them."""
AUDIT_COLUMNS = (
    Column("at", "at (UTC)", "time"),
    Column("product_id", "product", "whole"),
    Column("action", "action"),
    Column("outcome", "outcome"),
    Column("user_name", "who", shown=lambda e: e["user_name"] or e["client"] or "public", drop=1),
    Column("count", "count", "number", drop=2),
    Column("file_name", "file", drop=3),
    Column("bytes_sent", "bytes", "number", lambda e: f"{e['bytes_sent']:,}", drop=4),
    Column("detail", "detail", drop=5),
)
"""The audit log's terminal table: when, which product, what happened, then the rest."""


@archive_app.command("audit")
def archive_audit(
    product_id: Annotated[
        str | None, typer.Option("--product", metavar="ID", help="Only this product's entries.")
    ] = None,
    outcome: Annotated[
        str | None,
        typer.Option(metavar="OUTCOME", help="Only entries of this outcome (served, refused...)."),
    ] = None,
    since: Annotated[
        datetime | None, common.time_option("Only entries at or after this time.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, metavar="N", help="At most N entries.")] = 1000,
    output_format: FormatOption = Format.TABLE,
    database_url: DatabaseUrl = None,
) -> None:
    """List the audit log, newest first: every download and every refused access.

    The same entries as GET /api/v1/products/audit (the server's counts of the public's
    refusals not yet written are written when it next answers that request or stops).
    """
    from jointsat.store.products import audit_log

    with common.store_work(database_url) as session:
        rows = audit_log(session, product_id=product_id, outcome=outcome, since=since, limit=limit)
        entries = [
            {f: format_iso(v) if f == "at" else v for f in AUDIT_FIELDS for v in [getattr(r, f)]}
            for r in rows
        ]
    emit_rows(
        entries,
        AUDIT_COLUMNS,
        output_format,
        title=f"{len(entries)} audit entries, newest first",
        csv_columns=[Column(f) for f in AUDIT_FIELDS],
    )


@archive_app.command("get")
def archive_get(
    product_id: Annotated[str, typer.Argument(metavar="ID", help="The product's id.")],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            metavar="PATH",
            help="Where to write: the file for a product of one file, else a folder.",
        ),
    ],
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            metavar="URL",
            help="Download from the jointsat server at URL instead of the local archive.",
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option("--token", metavar="TOKEN", help="With --url: the API token to send."),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Fetch a product's files, verifying each one's SHA-256 before it takes its name.

    Each file is written to a temporary file beside its destination, hashed on the
    way, and renamed only when every file of the product matched its checksum; on a
    mismatch nothing is left at PATH.
    """
    if token is not None and url is None:
        raise typer.BadParameter("--token goes with --url", param_hint="'--token'")
    if url is not None and not url.lower().startswith(("http://", "https://")):
        raise typer.BadParameter(f"{url!r} is not an http:// or https:// URL", param_hint="'--url'")
    with common.reporting_errors(Console(stderr=True)), common.store_errors():
        if url is None:
            files = _local_product_files(database_url, product_id)
        else:
            from jointsat.client import product_files

            files = product_files(url, token, product_id)
        written = restore(files, output)
        for path, source in zip(written, files, strict=True):
            typer.echo(f"{source.sha256} {path}")


def _local_product_files(database_url: str | None, product_id: str) -> list[FileSource]:
    """Return the files of a product in the local store, read from its archive."""
    from jointsat.store.tables import Product

    settings = common.store_settings(database_url)
    url = settings.database_url
    store = BlobStore(settings.archive_folder, fallback=settings.legacy_archive_folder)
    with common.store_session(url) as session:
        product = session.get(Product, product_id)
        if product is None:
            raise JointsatError(f"no product {product_id!r} in the store {common.redacted(url)}")
        files = [(f.name, f.sha256, f.size_bytes) for f in product.files]

    def opener(name: str, sha256: str) -> Callable[[], AbstractContextManager[BinaryIO]]:
        @contextmanager
        def opened() -> Iterator[BinaryIO]:
            try:
                stored = store.open(sha256)
            except FileNotFoundError:
                raise ArchiveStorageError(
                    f"{name}: the archive at {store.root} has no blob {sha256}"
                ) from None
            with stored:
                yield stored

        return opened

    return [
        FileSource(name, sha256, size, opener(name, sha256), f"the archive {store.root}")
        for name, sha256, size in files
    ]


@archive_app.command("sweep")
def archive_sweep(
    min_age_minutes: Annotated[
        float,
        typer.Option(
            "--min-age",
            min=0.0,
            help="Leave files younger than this many minutes (ingests may still own them).",
        ),
    ] = 60.0,
    claim: Annotated[
        bool,
        typer.Option(
            "--claim",
            help="Claim an archive that records no owning store (made by an older jointsat) "
            "for this store: say so only when no other store uses the folder.",
        ),
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Remove blobs no product refers to and temporary files of interrupted ingests.

    Only this store's own archive is swept: one that another store owns is refused,
    and so is one that records no owner but holds blobs this store does not refer to
    (unless --claim). Only files older than --min-age are removed: a file being
    ingested is unreferenced until its product is recorded. With --min-age 0, run it
    only while no ingest runs, here or through the server.
    """
    from sqlalchemy import select

    from jointsat.archive.ingest import store_archive
    from jointsat.store.tables import ProductFile

    with common.store_command(database_url) as settings:
        with common.store_session(settings.database_url) as session:
            referenced = set(session.scalars(select(ProductFile.sha256).distinct()))
            store = store_archive(settings, session)
        blobs, parts = store.sweep(referenced, min_age_s=min_age_minutes * 60.0, claim=claim)
        typer.echo(
            f"removed {blobs} unreferenced blob(s) and {parts} temporary file(s) from {store.root}"
        )
