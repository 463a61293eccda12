"""A Heliophysics Event Knowledgebase look-alike on 127.0.0.1 for sunpy's real HEKClient.

HEK's search API (https://www.lmsal.com/hek/api.html) as sunpy's ``HEKClient`` speaks it:
``GET <base>her?cmd=search&type=column&cosec=2&event_type=FL&event_starttime=...&
event_endtime=...&event_coordsys=...&x1=...&x2=...&y1=...&y2=...&param0=OBS_Observatory&
op0==&value0=GOES&page=N`` (``cosec=2``: JSON), answered with ``{"result": [event, ...],
"overmax": bool}``: the events of the asked type whose [start, end] meets the asked
window and that pass every ``paramN opN valueN`` filter, ``page_size`` per page,
``overmax`` true while more pages follow. Events are dicts with HEK's column names
(``event_type``, ``event_starttime``, ``event_peaktime``, ``event_endtime`` in ISO UTC,
``fl_goescls``, ``ar_noaanum``, ``obs_observatory``, ...). ``requests`` keeps every query.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


def goes_flare(peak: str, goes_class: str, noaa: int, minutes_before: int = 10, minutes_after: int = 20) -> dict:
    """A GOES flare as HEK lists it (times ISO UTC, peak given)."""
    from datetime import datetime, timedelta

    t = datetime.fromisoformat(peak)
    iso = "%Y-%m-%dT%H:%M:%S"
    return {"event_type": "FL", "obs_observatory": "GOES", "obs_instrument": "GOES", "frm_name": "SWPC",
            "event_starttime": (t - timedelta(minutes=minutes_before)).strftime(iso),
            "event_peaktime": t.strftime(iso),
            "event_endtime": (t + timedelta(minutes=minutes_after)).strftime(iso),
            "fl_goescls": goes_class, "ar_noaanum": noaa, "event_coordsys": "UTC-HPC-TOPO",
            "event_coordunit": "arcseconds", "event_coord1": 0.0, "event_coord2": 0.0, "event_coord3": None}


class FakeHEK:
    """A started-on-demand HEK server; ``url`` is what ``HEKClient(url)`` takes."""

    def __init__(self, events, page_size: int = 2):
        self.events, self.page_size, self.requests = list(events), page_size, []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query, keep_blank_values=True).items()}
                server.requests.append(query)
                body = json.dumps(server.answer(query)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/hek/her?"

    def answer(self, q: dict) -> dict:
        if q.get("cmd") != "search" or q.get("cosec") != "2":
            return {"result": [], "overmax": False, "error": "only cmd=search with cosec=2 (JSON)"}
        start, end = q.get("event_starttime", ""), q.get("event_endtime", "9999")
        hits = [e for e in self.events
                if q.get("event_type") in ("**", e["event_type"])
                and e["event_starttime"] <= end and e["event_endtime"] >= start
                and all(str(e.get(q[f"param{i}"].lower())) == q.get(f"value{i}")
                        for i in range(10) if f"param{i}" in q and q.get(f"op{i}") == "=")]
        page = int(q.get("page", 1))
        chunk = hits[(page - 1) * self.page_size:page * self.page_size]
        return {"result": chunk, "overmax": page * self.page_size < len(hits)}

    def start(self) -> "FakeHEK":
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
