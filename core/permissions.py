from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from core.tenancy import is_operator_staff, merchant_id_for_user


class IsOperatorStaff(BasePermission):
    """Operator staff: Django staff who do not belong to a merchant."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_operator_staff(request.user)


class IsMerchantOrOperatorStaff(BasePermission):
    """A merchant's staff (who then see only their merchant's records) or
    operator staff (who see everyone's)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and (user.is_staff or merchant_id_for_user(user) is not None)
        )
