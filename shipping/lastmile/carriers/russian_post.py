"""Russian Post tracking: the single-item SOAP service (getOperationHistory,
SOAP 1.2) and the batch service (getTicket, then getResponseByTicket once
the answer is ready, SOAP 1.1), their operations mapped onto Amur's events.

Mail from abroad keeps its S10 number inside Russia, so the S10 is Russian
Post's number too and nothing is registered beforehand: "creating" a
shipment records it for tracking, and Amur's own label is the label."""

from __future__ import annotations

import zoneinfo
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from xml.etree.ElementTree import Element

import requests
from defusedxml import ElementTree
from django.conf import settings
from django.utils.html import escape

from shipping.lastmile.carriers import (
    CarrierError,
    CarrierNotConfigured,
    CarrierStatus,
    Registered,
    ShipmentRequest,
    Tracked,
)

MOSCOW = zoneinfo.ZoneInfo("Europe/Moscow")
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
# Russian Post's batch service answers this error while a ticket's answer is
# still being prepared.
TICKET_NOT_READY = "6"
BATCH_LIMIT = 3000


def operation_event(oper_type: int, oper_attr: int) -> tuple[str, str]:
    """Amur's event and reason for a Russian Post operation (type, attribute);
    ("", "") for operations that mean nothing to the buyer."""
    if oper_type == 1:  # Приём
        return "accepted", ""
    if oper_type == 2:  # Вручение: attribute 2 is to the sender, i.e. back home
        return ("returned", "") if oper_attr == 2 else ("delivered", "")
    if oper_type == 3:  # Возврат: 1 storage expired, 4 refused by the addressee
        reason = {1: "storage_expired", 4: "refused"}.get(oper_attr, "other")
        return "delivery_failed", reason
    if oper_type in (5, 12):  # Невручение, неудачная попытка вручения
        return "delivery_failed", "other"
    if oper_type == 8:  # Обработка: 2 arrived where it is handed over
        return ("available_for_pickup", "") if oper_attr == 2 else ("arrived", "")
    if oper_type == 9:  # Импорт международной почты
        return "arrived", ""
    if oper_type == 10:  # Экспорт международной почты
        return "departed", ""
    if oper_type == 11:  # Приём на таможню
        return "customs_presented", ""
    if oper_type == 14 and oper_attr == 1:  # Таможенное оформление: выпущено
        return "customs_released", ""
    return "", ""


def _local(element: Element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def _find(element: Element, name: str) -> Element | None:
    return next((e for e in element.iter() if _local(e) == name), None)


def _text(element: Element | None, name: str) -> str:
    found = _find(element, name) if element is not None else None
    return (found.text or "").strip() if found is not None else ""


def _status(
    number: str, oper_type: int, oper_attr: int, at: datetime, location: str
) -> CarrierStatus | None:
    event, reason = operation_event(oper_type, oper_attr)
    if not event:
        return None
    return CarrierStatus(
        key=f"russian_post:{number}:{oper_type}.{oper_attr}:{at.isoformat()}",
        code=f"{oper_type}.{oper_attr}",
        event=event,
        occurred_at=at,
        location=location[:100],
        reason=reason,
    )


def history_parse(number: str, body: bytes) -> list[CarrierStatus]:
    """getOperationHistory's answer as statuses, oldest first."""
    root = _parse(body)
    fault = _find(root, "Fault")
    if fault is not None:
        raise CarrierError(f"Russian Post: {_text(fault, 'Text') or 'fault'}", retry=False)
    found = []
    for record in (e for e in root.iter() if _local(e) == "historyRecord"):
        params = _find(record, "OperationParameters")
        oper_type = _find(params, "OperType") if params is not None else None
        oper_attr = _find(params, "OperAttr") if params is not None else None
        at = datetime.fromisoformat(_text(params, "OperDate"))
        status = _status(
            number,
            int(_text(oper_type, "Id") or 0),
            int(_text(oper_attr, "Id") or 0),
            at if at.tzinfo else at.replace(tzinfo=MOSCOW),
            _text(_find(record, "OperationAddress"), "Description"),
        )
        if status is not None:
            found.append(status)
    return found


def ticket_answer_parse(body: bytes) -> dict[str, list[CarrierStatus]] | None:
    """getResponseByTicket's answer per S10, or None while it is not ready."""
    root = _parse(body)
    error = _find(root, "error")
    if error is not None:
        if error.get("ErrorTypeID") == TICKET_NOT_READY:
            return None
        raise CarrierError(f"Russian Post ticket: {error.get('ErrorName', '')}", retry=False)
    answer: dict[str, list[CarrierStatus]] = {}
    for item in (e for e in root.iter() if _local(e) == "Item"):
        number = item.get("Barcode", "")
        statuses = answer.setdefault(number, [])
        for operation in (e for e in item if _local(e) == "Operation"):
            # The batch service gives Moscow time without an offset.
            at = datetime.strptime(  # noqa: DTZ007
                operation.get("DateOper", ""), "%d.%m.%Y %H:%M:%S"
            )
            status = _status(
                number,
                int(operation.get("OperTypeID") or 0),
                int(operation.get("OperCtgID") or 0),
                at.replace(tzinfo=MOSCOW),
                operation.get("IndexOper", ""),
            )
            if status is not None:
                statuses.append(status)
    return answer


def _parse(body: bytes) -> Element:
    try:
        root: Element = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise CarrierError(f"Russian Post: unreadable answer ({exc})", retry=True) from exc
    return root


class RussianPostAdapter:
    code = "russian_post"

    def __init__(self) -> None:
        conf = settings.AMUR
        self.single_url = conf["RUSSIAN_POST_TRACKING_URL"]
        self.batch_url = conf["RUSSIAN_POST_BATCH_URL"]
        self.login = conf["RUSSIAN_POST_LOGIN"]
        self.password = conf["RUSSIAN_POST_PASSWORD"]
        self.timeout = conf["CARRIER_TIMEOUT_SECONDS"]
        if not (self.login and self.password):
            raise CarrierNotConfigured(self.code)

    def _post(self, url: str, envelope: str, content_type: str) -> bytes:
        try:
            response = requests.post(
                url,
                data=envelope.encode(),
                headers={"Content-Type": content_type},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise CarrierError(f"Russian Post: {exc}", retry=True) from exc
        # SOAP faults come as 500 with a readable body: the parsers judge them.
        if response.status_code >= 500 and b"Fault" not in response.content:
            raise CarrierError(f"Russian Post: HTTP {response.status_code}", retry=True)
        return response.content

    # --- The interface ------------------------------------------------------

    def shipment_create(self, request: ShipmentRequest) -> Registered:
        return Registered(reference=request.tracking_number, carrier_number=request.tracking_number)

    def label_get(self, reference: str) -> bytes | None:
        return None

    def shipment_cancel(self, reference: str) -> None:
        # Nothing was registered: a parcel not yet handed over is simply kept.
        return None

    def pickup_points_list(self) -> list[dict[str, Any]] | None:
        # The tracking services list no offices: load them from a file.
        return None

    def history(self, number: str) -> list[CarrierStatus]:
        envelope = (
            f'<soap:Envelope xmlns:soap="{SOAP12}" xmlns:soapenv="{SOAP11}"'
            ' xmlns:oper="http://russianpost.org/operationhistory"'
            ' xmlns:data="http://russianpost.org/operationhistory/data">'
            "<soap:Header/><soap:Body><oper:getOperationHistory>"
            "<data:OperationHistoryRequest>"
            f"<data:Barcode>{escape(number)}</data:Barcode>"
            "<data:MessageType>0</data:MessageType><data:Language>RUS</data:Language>"
            "</data:OperationHistoryRequest>"
            '<data:AuthorizationHeader soapenv:mustUnderstand="1">'
            f"<data:login>{escape(self.login)}</data:login>"
            f"<data:password>{escape(self.password)}</data:password>"
            "</data:AuthorizationHeader>"
            "</oper:getOperationHistory></soap:Body></soap:Envelope>"
        )
        body = self._post(self.single_url, envelope, "application/soap+xml; charset=utf-8")
        return history_parse(number, body)

    def track(self, references: Sequence[str]) -> dict[str, Tracked]:
        return {number: Tracked(number, self.history(number)) for number in references}

    def ticket_request(self, numbers: Sequence[str]) -> str:
        items = "".join(f'<fcl:Item Barcode="{escape(n)}"/>' for n in numbers[:BATCH_LIMIT])
        body = self._post(
            self.batch_url,
            self._batch("ticketRequest", f"<request>{items}</request>"),
            "text/xml; charset=utf-8",
        )
        root = _parse(body)
        error = _find(root, "error")
        ticket = _text(root, "value")
        if error is not None or not ticket:
            name = error.get("ErrorName", "") if error is not None else "no ticket"
            raise CarrierError(f"Russian Post getTicket: {name}", retry=True)
        return ticket

    def ticket_answer(self, ticket: str) -> dict[str, list[CarrierStatus]] | None:
        inner = f"<ticket>{escape(ticket)}</ticket>"
        body = self._post(
            self.batch_url, self._batch("answerByTicketRequest", inner), "text/xml; charset=utf-8"
        )
        return ticket_answer_parse(body)

    def _batch(self, operation: str, inner: str) -> str:
        return (
            f'<soapenv:Envelope xmlns:soapenv="{SOAP11}"'
            ' xmlns:pos="http://fclient.russianpost.org/postserver"'
            ' xmlns:fcl="http://fclient.russianpost.org">'
            f"<soapenv:Header/><soapenv:Body><pos:{operation}>{inner}"
            f"<login>{escape(self.login)}</login><password>{escape(self.password)}</password>"
            "<language>RUS</language>"
            f"</pos:{operation}></soapenv:Body></soapenv:Envelope>"
        )
