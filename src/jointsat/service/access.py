"""Decide what a user may see and change, from roles and the partners' agreements.

Rules:
- A consortium admin sees and changes everything.
- A partner's users see their partner's stations and satellites; operators (not
  viewers) change them.
- Others' stations and satellites are seen as their owners' agreements allow:
  ``consortium`` or ``public`` visibility lets every member see them, ``private`` hides
  them (the API then answers 404, not 403, so as not to reveal that they exist).
- A joint satellite is private if any of its operators' agreements makes it private:
  the most restrictive operator wins.
"""

from __future__ import annotations

from collections.abc import Iterable

from jointsat.store.tables import Role, User, Visibility


def sees(user: User, owners: Iterable[int], visibilities: Iterable[Visibility]) -> bool:
    """Return whether the user may see an asset owned by ``owners`` under ``visibilities``."""
    if user.role is Role.ADMIN:
        return True
    owner_ids = set(owners)
    if user.partner_id in owner_ids:
        return True
    return all(v is not Visibility.PRIVATE for v in visibilities)


def changes(user: User, owners: Iterable[int]) -> bool:
    """Return whether the user may change an asset owned by ``owners``."""
    if user.role is Role.ADMIN:
        return True
    return user.role is Role.OPERATOR and user.partner_id in set(owners)
