"""Define every domain exception of jointsat in one place."""

from __future__ import annotations


class JointsatError(Exception):
    """Base class of every error jointsat raises on purpose."""


class InputError(JointsatError, ValueError):
    """Reject input that cannot be used, naming where it came from and why.

    ``source`` names the file (or ``<string>``), ``location`` the line or record
    (``"line 5"``, ``"record 3"``), ``reason`` what is wrong with it.
    """

    def __init__(self, reason: str, *, source: str = "<string>", location: str = "") -> None:
        self.reason = reason
        self.source = source
        self.location = location
        where = f"{source} {location}".strip()
        super().__init__(f"{where}: {reason}" if where else reason)


class ReasonError(InputError):
    """Reject an input that is no file's: the message is the reason, naming no source
    unless given one (design, analysis, Doppler and pointing inputs)."""

    def __init__(self, reason: str, *, source: str = "", location: str = "") -> None:
        super().__init__(reason, source=source, location=location)


class ElementsError(InputError):
    """Reject an element set (TLE or OMM) that cannot be read."""


class UnknownFormatError(ElementsError):
    """Reject element text whose format cannot be recognised."""


class StationsError(InputError):
    """Reject a stations file or a station definition."""


class TimeWindowError(InputError):
    """Reject a time window that is empty, reversed or naive."""


class StoreError(JointsatError):
    """Report that the store cannot be opened, reached or migrated."""


class ProblemInputError(InputError):
    """Reject a scheduling problem (or a schedule) whose field is missing or wrong."""


class PlanningInputError(InputError):
    """Reject an observation request or a planning problem whose field is missing or wrong."""


class ArchiveInputError(InputError):
    """Reject a product's metadata or files: a missing or wrong field, a bad checksum."""


class ArchiveConflictError(ArchiveInputError):
    """Refuse to ingest files already archived as a product with other metadata."""


class ArchiveRefusedError(JointsatError):
    """Refuse an ingest by a caller who may not ingest products of the satellite."""


class ArchiveStorageError(JointsatError):
    """Report that the archive could not store a product durably (a full disk, an I/O error).

    Nothing of the product is left visible when this is raised.
    """


class ArchiveOwnerError(ArchiveStorageError):
    """Refuse to write to or sweep an archive another store owns (or may share)."""


class ContactStateError(ReasonError):
    """Refuse a move of a contact's lifecycle that its state, or the one moving it, forbids."""


class ContactReportError(ReasonError):
    """Reject a station's report that cannot be: a time out of range, negative bytes, no reason."""


class DesignError(ReasonError):
    """Reject a mission-design input: a constellation, an area of interest, a grid size."""


class AnalysisInputError(ReasonError):
    """Reject an analysis input: a light curve, an optical product, an area, a setting."""


class SsfError(InputError):
    """Reject a CCSDS Simple Schedule Format message, naming the element path at fault."""


class Spot5Error(InputError):
    """Reject a SPOT5 file that cannot be read, naming the line."""


class PredictionRefusedError(JointsatError):
    """Refuse a new pass prediction: the caller's budget of them is spent for now."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"no new pass prediction for {retry_after_s:.0f} s")
        self.retry_after_s = retry_after_s


class SourceError(JointsatError):
    """Report that an element-set source could not be queried, or answered what cannot be used.

    Nothing is stored when this is raised: a timeout, a cut-off or malformed answer, a
    refused login or a limit reached leaves the store's element sets as they were.
    """


class SourceBlockedError(SourceError):
    """Refuse to query a source that answered an error: an operator must unblock it first."""


class DopplerError(ReasonError):
    """Reject a frequency or a time grid that a Doppler table cannot be made from."""


class PointingError(ReasonError):
    """Reject a rotator model or a pass track that a pointing plan cannot be made from."""


class RadioError(ReasonError):
    """Reject a satellite's radio link, or a link budget that cannot be computed from it."""


class HamlibError(JointsatError):
    """Report that a hamlib daemon (``rotctld``, ``rigctld``) could not be reached or
    refused a command.

    The message names the daemon, its address and, for a refused command, hamlib's
    error code (``RPRT -n``) and the command sent.
    """


class RotctldError(HamlibError):
    """Report that a rotator's ``rotctld`` could not be reached or refused a command."""


class RigctldError(HamlibError):
    """Report that a radio's ``rigctld`` could not be reached or refused a command."""
