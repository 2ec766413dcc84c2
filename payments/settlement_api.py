"""Settlement statements for merchants' staff (their own) and operator staff
(all): list, detail with lines, CSV and PDF. Another merchant's statement is
a 404, as if it did not exist."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import CSV, PDF, csv_response, error_responses, pdf_response
from core.permissions import IsMerchantOrOperatorStaff
from payments.models import SettlementStatement
from payments.selectors import statement_get_for_user, statements_for_user
from payments.serializers import SettlementStatementDetailSerializer, SettlementStatementSerializer
from payments.statement_documents import statement_csv, statement_filename, statement_pdf

TAGS = ["settlement"]


class MerchantStatementListView(generics.ListAPIView):
    """Weekly settlement statements, newest week first."""

    permission_classes = [IsMerchantOrOperatorStaff]
    serializer_class = SettlementStatementSerializer
    filter_backends: list[type] = []

    def get_queryset(self) -> QuerySet[SettlementStatement]:
        return statements_for_user(user=self.request.user)

    @extend_schema(tags=TAGS, responses={200: SettlementStatementSerializer(many=True)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class MerchantStatementDetailView(APIView):
    permission_classes = [IsMerchantOrOperatorStaff]

    @extend_schema(
        responses={200: SettlementStatementDetailSerializer, **error_responses(401, 403, 404)},
        tags=TAGS,
    )
    def get(self, request: Request, statement_id: int) -> Response:
        statement = statement_get_for_user(user=request.user, statement_id=statement_id)
        return Response(SettlementStatementDetailSerializer(statement).data)


class MerchantStatementCsvView(APIView):
    permission_classes = [IsMerchantOrOperatorStaff]

    @extend_schema(
        responses={**CSV, **error_responses(401, 403, 404)},
        tags=TAGS,
        operation_id="settlement_statement_csv",
    )
    def get(self, request: Request, statement_id: int) -> HttpResponse:
        statement = statement_get_for_user(user=request.user, statement_id=statement_id)
        return csv_response(
            statement_csv(statement=statement), statement_filename(statement, "csv")
        )


class MerchantStatementPdfView(APIView):
    permission_classes = [IsMerchantOrOperatorStaff]

    @extend_schema(
        responses={**PDF, **error_responses(401, 403, 404)},
        tags=TAGS,
        operation_id="settlement_statement_pdf",
    )
    def get(self, request: Request, statement_id: int) -> HttpResponse:
        statement = statement_get_for_user(user=request.user, statement_id=statement_id)
        return pdf_response(
            statement_pdf(statement=statement), statement_filename(statement, "pdf")
        )
