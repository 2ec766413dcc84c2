"""A local stand-in for Russian Post's tracking services, built from their
published shapes: the single-item SOAP 1.2 service (getOperationHistory)
and the batch SOAP 1.1 service (getTicket, then getResponseByTicket, which
answers "not ready" until the test marks the ticket ready). The test plays
the post offices with `operate`."""

from __future__ import annotations

import threading
import uuid
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from xml.sax.saxutils import quoteattr

from defusedxml import ElementTree

LOGIN = "amur-rp-login"
PASSWORD = "amur-rp-password"
MOSCOW = zoneinfo.ZoneInfo("Europe/Moscow")
NAMES = {1: "Прием", 2: "Вручение", 3: "Возврат", 8: "Обработка", 9: "Импорт международной почты"}


@dataclass(frozen=True)
class Operation:
    oper_type: int
    oper_attr: int
    at: datetime
    index: str
    place: str


@dataclass
class FakeRussianPost:
    url: str = ""
    operations: dict[str, list[Operation]] = field(default_factory=dict)
    tickets: dict[str, list[str]] = field(default_factory=dict)
    ready: set[str] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def operate(
        self,
        number: str,
        oper_type: int,
        oper_attr: int,
        at: datetime,
        index: str = "620075",
        place: str = "Екатеринбург 620075",
    ) -> None:
        with self.lock:
            self.operations.setdefault(number, []).append(
                Operation(oper_type, oper_attr, at.astimezone(MOSCOW), index, place)
            )

    def answer(self, body: bytes) -> tuple[int, str]:
        root = ElementTree.fromstring(body)
        names = {e.tag.rsplit("}", 1)[-1]: e for e in root.iter()}
        if "getOperationHistory" in names:
            self.calls.append("getOperationHistory")
            if (names["login"].text, names["password"].text) != (LOGIN, PASSWORD):
                return 500, _fault12("Authorization failed")
            return 200, self._history(names["Barcode"].text or "")
        if "ticketRequest" in names:
            self.calls.append("getTicket")
            if (names["login"].text, names["password"].text) != (LOGIN, PASSWORD):
                return 200, _envelope11(
                    '<ns2:ticketResponse xmlns:ns2="http://fclient.russianpost.org/postserver"><error ErrorTypeID="1" ErrorName="Ошибка авторизации"/></ns2:ticketResponse>'
                )
            ticket = datetime.now(MOSCOW).strftime("%Y%m%d%H%M%S") + uuid.uuid4().hex[:8]
            self.tickets[ticket] = [
                e.get("Barcode", "") for e in root.iter() if e.tag.rsplit("}", 1)[-1] == "Item"
            ]
            return 200, _envelope11(
                f'<ns2:ticketResponse xmlns:ns2="http://fclient.russianpost.org/postserver"><value>{ticket}</value></ns2:ticketResponse>'
            )
        if "answerByTicketRequest" in names:
            self.calls.append("getResponseByTicket")
            ticket = names["ticket"].text or ""
            if ticket not in self.ready:
                return 200, _envelope11(
                    '<ns3:answerByTicketResponse xmlns:ns3="http://fclient.russianpost.org/postserver"><error ErrorTypeID="6" ErrorName="Ответ для ticket еще не готов"/></ns3:answerByTicketResponse>'
                )
            items = "".join(self._item(n) for n in self.tickets[ticket])
            return 200, _envelope11(
                f'<ns3:answerByTicketResponse xmlns:ns3="http://fclient.russianpost.org/postserver" xmlns:ns1="http://fclient.russianpost.org"><value FileName="{ticket}" FileTypeID="1" FileNumber="1" SenderID="1" RecipientID="1" PreparationDate="{datetime.now(MOSCOW):%d.%m.%Y %H:%M:%S}">{items}</value></ns3:answerByTicketResponse>'
            )
        return 500, _fault12("Unknown operation")

    def _history(self, number: str) -> str:
        records = "".join(
            "<ns3:historyRecord>"
            f"<ns3:AddressParameters><ns3:OperationAddress><ns3:Index>{op.index}</ns3:Index><ns3:Description>{op.place}</ns3:Description></ns3:OperationAddress></ns3:AddressParameters>"
            f"<ns3:ItemParameters><ns3:Barcode>{number}</ns3:Barcode></ns3:ItemParameters>"
            "<ns3:OperationParameters>"
            f"<ns3:OperType><ns3:Id>{op.oper_type}</ns3:Id><ns3:Name>{NAMES.get(op.oper_type, '')}</ns3:Name></ns3:OperType>"
            f"<ns3:OperAttr><ns3:Id>{op.oper_attr}</ns3:Id><ns3:Name></ns3:Name></ns3:OperAttr>"
            f"<ns3:OperDate>{op.at.isoformat(timespec='milliseconds')}</ns3:OperDate>"
            "</ns3:OperationParameters></ns3:historyRecord>"
            for op in self.operations.get(number, [])
        )
        return (
            '<S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope"><S:Body>'
            '<ns7:getOperationHistoryResponse xmlns:ns7="http://russianpost.org/operationhistory" xmlns:ns3="http://russianpost.org/operationhistory/data">'
            f"<ns3:OperationHistoryData>{records}</ns3:OperationHistoryData>"
            "</ns7:getOperationHistoryResponse></S:Body></S:Envelope>"
        )

    def _item(self, number: str) -> str:
        operations = "".join(
            f'<ns1:Operation OperTypeID="{op.oper_type}" OperCtgID="{op.oper_attr}" OperName={quoteattr(NAMES.get(op.oper_type, ""))} DateOper="{op.at:%d.%m.%Y %H:%M:%S}" IndexOper="{op.index}"/>'
            for op in self.operations.get(number, [])
        )
        return f'<ns1:Item Barcode="{number}">{operations}</ns1:Item>'


def _envelope11(inner: str) -> str:
    return f'<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>{inner}</S:Body></S:Envelope>'


def _fault12(text: str) -> str:
    return (
        '<S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope"><S:Body><S:Fault>'
        "<S:Code><S:Value>S:Receiver</S:Value></S:Code>"
        f'<S:Reason><S:Text xml:lang="ru">{text}</S:Text></S:Reason>'
        "</S:Fault></S:Body></S:Envelope>"
    )


@contextmanager
def russian_post_server() -> Iterator[FakeRussianPost]:
    fake = FakeRussianPost()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            with fake.lock:
                status, reply = fake.answer(self.rfile.read(length))
            data = reply.encode()
            self.send_response(status)
            self.send_header("content-type", "text/xml; charset=utf-8")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
