#!/usr/bin/env python3
"""The crash loop's driver (scripts/crash-loop.sh calls it; docs/reliability.md says what it shows).

Starts a network in a temporary directory from built binaries the way scripts/run.sh does
(linkcored with the shipped whitelist and fees modules, linkcore-matcher on a generated registry,
the adapters of CITY01, PENSION01 and BANK01), puts mixed load on it through the adapters' local
APIs and the registry clerk's command (what scripts/demo-scenario.sh does, in loops), and in each
cycle `kill -9`s one process at a random moment, restarts it with the same configuration and
times it to READY=1 on a NOTIFY_SOCKET this script owns. After each cycle it lets the network
settle and checks from outside, with SQLite opened read-only and `linkctl`, that no acknowledged
operation was lost or duplicated. Every acknowledged operation is appended to journal.jsonl
(flushed and fsynced) before it is counted.

With --postgres: two linkcored nodes on a private PostgreSQL server instead of one on SQLite
(scripts/crash_loop_pg.py); either node may be the one killed, the checks read PostgreSQL.

Exit status: 0 when every invariant held in every cycle, 1 when one did not (each violation is
printed), 2 when the network could not be started or did not come back.
"""
import argparse
import hashlib
import hmac
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

import crash_loop_pg

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ETC = os.path.join(ROOT, "etc", "linkcore")
ORGS = [("CITY01", "agency", "public"), ("PENSION01", "agency", "public"),
        ("BANK01", "private-connector", "private"), ("MATCHER", "matcher", "public")]
ADAPTERS = ["CITY01", "PENSION01", "BANK01"]
# Mediations the shipped whitelist permits (the scenario's rows); BANK01's is metered by fees.toml.
FLOWS = [("PENSION01", "CITY01", "BP-PENSION-CONTRIBUTION-EXEMPTION", "LOCAL-TAX-INCOME"),
         ("CITY01", "PENSION01", "BP-CHILD-REARING-ALLOWANCE", "PENSION-BENEFIT"),
         ("BANK01", "CITY01", "BP-CUSTOMER-DUE-DILIGENCE", "ADDRESS-CURRENT")]
PAYER = "BANK01"  # the one private organisation: its mediations, links and events are charged
SETTLE_SECONDS = 120  # generous: a busy 2-core machine, adapters reconnecting with backoff


class NetworkDown(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Link codes, opened from outside with the master secret (docs/link-codes.md), to check that a
# code an organisation received names a live row of the core's ID table.
SYMBOLS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def open_link_code(master, org, code):
    """The ID code a canonical 29-character link code opens to under `org`, or None."""
    prk = hmac.new(b"linkcore/link-code/hkdf-salt/v1", master, hashlib.sha256).digest()
    number = 0
    for ch in code[:28]:
        if ch not in SYMBOLS:
            return None
        number = number * 32 + SYMBOLS.index(ch)
    index = number >> 130
    block = ((number >> 2) & ((1 << 128) - 1)).to_bytes(16, "big")
    info = b"linkcore link-code v1\x00" + bytes([len(org)]) + org.encode() + index.to_bytes(2, "big")
    okm, t = b"", b""
    for i in (1, 2):
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        okm += t
    decryptor = Cipher(algorithms.AES(okm[:32]), modes.ECB()).decryptor()
    plain = decryptor.update(block) + decryptor.finalize()
    # SQLite keeps the 64-bit ID code as a signed integer: compare in that form.
    return int.from_bytes(plain[:8], "big", signed=True) if hmac.compare_digest(plain[8:], okm[32:40]) else None


# ---------------------------------------------------------------------------------------------
class Notify:
    """An AF_UNIX datagram socket given to a child as NOTIFY_SOCKET, as systemd does."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.lock = threading.Lock()
        self.messages = []  # (monotonic time, text)
        self.closed = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while not self.closed:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.messages.append((time.monotonic(), data.decode("utf-8", "replace")))

    def ready_after(self, t0):
        with self.lock:
            for at, text in self.messages:
                if at >= t0 and "READY=1" in text.split("\n"):
                    return at
        return None


class Child:
    """One process of the network: always started with the same arguments and environment."""

    def __init__(self, name, argv, work, env):
        self.name, self.argv = name, argv
        self.notify = Notify(os.path.join(work, "notify", name + ".sock"))
        self.log_path = os.path.join(work, "logs", name + ".log")
        self.env = dict(env, NOTIFY_SOCKET=self.notify.path)
        self.proc = None
        self.started = 0.0

    def start(self):
        self.started = time.monotonic()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                         stdin=subprocess.DEVNULL)

    def wait_ready(self, timeout=180):
        """Seconds from the start to READY=1; NetworkDown if it exits or never says so."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            at = self.notify.ready_after(self.started)
            if at is not None:
                return at - self.started
            if self.proc.poll() is not None:
                raise NetworkDown(f"{self.name} exited with {self.proc.returncode} before READY=1 (log {self.log_path})")
            time.sleep(0.02)
        raise NetworkDown(f"{self.name}: no READY=1 within {timeout} s (log {self.log_path})")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Journal:
    """Acknowledged operations, one JSON line each, on disk before they are counted."""

    def __init__(self, path):
        self.file = open(path, "a", encoding="utf-8")
        self.lock = threading.Lock()
        self.entries = []

    def add(self, **entry):
        with self.lock:
            self.file.write(json.dumps(entry, ensure_ascii=False) + "\n")
            self.file.flush()
            os.fsync(self.file.fileno())
            self.entries.append(entry)

    def entries_snapshot(self):
        with self.lock:
            return list(self.entries)

    def of(self, op):
        with self.lock:
            return [e for e in self.entries if e["op"] == op]


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def read_only(path):
    """A read-only SQLite connection: the checker never writes what it checks."""
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)


# ---------------------------------------------------------------------------------------------
class Network:
    def __init__(self, work, bin_dir, seed, postgres=False):
        self.work, self.bin = work, bin_dir
        # The core's processes: one linkcored on SQLite, or two nodes on PostgreSQL.
        self.cores = crash_loop_pg.NODES if postgres else ["linkcored"]
        self.postgres = None
        self.rng = random.Random(seed)
        self.seed = seed
        for sub in ("logs", "notify", "adapters"):
            os.makedirs(os.path.join(work, sub), exist_ok=True)
        # The children's own environment: the caller's, without anything systemd would have set.
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
                                 "WATCHDOG_USEC", "WATCHDOG_PID", "CREDENTIALS_DIRECTORY", "JOURNAL_STREAM")}
        self.core_port, self.matcher_port, *api = free_ports(2 + len(ADAPTERS))
        self.api_port = dict(zip(ADAPTERS, api))
        if postgres:
            ports = free_ports(1 + 2 * len(self.cores))
            self.postgres = crash_loop_pg.PostgresServer(ports[0])
            self.node_ports = {n: (ports[1 + 2 * i], ports[2 + 2 * i]) for i, n in enumerate(self.cores)}
        # Where linkctl asks (n1's socket on the cluster: one database, one access log).
        self.admin_socket = f"{work}/n1/admin.sock" if postgres else f"{work}/admin.sock"
        self.children = {}
        self.tokens = {}
        self.residents = []  # (resident_code, my_number)

    def tool(self, *argv):
        return subprocess.run([os.path.join(self.bin, argv[0]), *argv[1:]], check=True, env=self.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True).stdout

    def fill(self, template, **extra):
        with open(os.path.join(ETC, template), encoding="utf-8") as f:
            text = f.read()
        text = (text.replace("@RUN@", self.work).replace("@BIN@", self.bin).replace("@ETC@", ETC)
                .replace("127.0.0.1:7400", f"127.0.0.1:{self.core_port}")
                .replace("127.0.0.1:7500", f"127.0.0.1:{self.matcher_port}"))
        for key, value in extra.items():
            text = text.replace(key, value)
        return text

    def write(self, path, text):
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)

    def setup(self, residents=80):
        w = self.work
        self.tool("linkctl", "pki", "init", "--dir", f"{w}/pki", "--server-name", "localhost", "--server-ip", "127.0.0.1")
        for code, _, _ in ORGS:
            self.tool("linkctl", "pki", "issue", "--dir", f"{w}/pki", "--org", code, "--name", f"Crash {code}")
        self.tool("linkctl", "keys", "master-init", "--out", f"{w}/master.key")
        with open(f"{w}/master.key", "rb") as f:
            self.master = f.read()
        # Events are released within a short window, as in the demo, so a cycle settles quickly.
        self.write(f"{w}/linkcored.toml", self.fill("linkcored.local.toml")
                   .replace("delivery_window_ms = 2000", "delivery_window_ms = 300"))
        shutil.copy(os.path.join(ETC, "whitelist-builtin.csv"), w)
        self.write(f"{w}/matcher.toml", self.fill("matcher.local.toml"))
        self.tool("linkcore-matcher", "registry", "generate", "--db", f"{w}/registry.sqlite",
                  "--count", str(residents), "--seed", str(self.seed))
        # The residents to link, by My Number (the generator's own data, not linkcore state; `registry
        # sample` would give at most 1000, too few to keep link requests going for 100 cycles).
        registry = read_only(f"{w}/registry.sqlite")
        self.residents = list(registry.execute(
            "SELECT resident_code, my_number FROM residents WHERE status = 'alive' ORDER BY id LIMIT ?", (residents,)))
        registry.close()
        for org in ADAPTERS:
            d = f"{w}/adapters/{org}"
            os.makedirs(d, exist_ok=True)
            self.write(f"{d}/adapter.toml", self.fill("adapter.local.toml", **{"@ORG@": org, "@PORT@": str(self.api_port[org])}))
            # The organisation's own system (its dataset backend): an answer for every person.
            self.tool("linkcore-adapter", "dataset", "--db", f"{d}/answers.sqlite")
            db = sqlite3.connect(f"{d}/answers.sqlite")
            for code, _ in self.residents:
                for _, provider, _, info in FLOWS:
                    if provider == org:
                        db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?)", (person(org, code), info, f"{info} of {code}"))
            db.commit()
            db.close()
        if self.postgres:
            self.postgres.start()
            with open(f"{w}/postgresql.conn", "w", encoding="utf-8") as f:
                f.write(self.postgres.url + "\n")
            os.chmod(f"{w}/postgresql.conn", 0o600)
            with open(f"{w}/linkcored.toml", encoding="utf-8") as f:
                single = f.read()
            for i, node in enumerate(self.cores):
                self.tool("linkctl", "pki", "issue-node", "--dir", f"{w}/pki", "--name", node, "--dns", "localhost", "--ip", "127.0.0.1")
                os.makedirs(f"{w}/{node}", exist_ok=True)
                self.write(f"{w}/{node}/linkcored.toml", crash_loop_pg.node_config(self, node, single, self.node_ports[node]))
                self.children[node] = Child(node, [f"{self.bin}/linkcored", "--config", f"{w}/{node}/linkcored.toml"], w, self.env)
            # Every peer is given both nodes; the adapters alternate which comes first.
            core = f'address = "127.0.0.1:{self.core_port}"'
            for i, path in enumerate([f"{w}/matcher.toml"] + [f"{w}/adapters/{org}/adapter.toml" for org in ADAPTERS]):
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                first = self.cores[i % len(self.cores)]
                self.write(path, text.replace(core, "address = " + crash_loop_pg.core_list(self, first)))
        else:
            self.children["linkcored"] = Child("linkcored", [f"{self.bin}/linkcored", "--config", f"{w}/linkcored.toml"], w, self.env)
        self.children["matcher"] = Child("matcher", [f"{self.bin}/linkcore-matcher", "serve", "--config", f"{w}/matcher.toml"], w, self.env)
        for org in ADAPTERS:
            self.children[org] = Child(org, [f"{self.bin}/linkcore-adapter", "run", "--config", f"{w}/adapters/{org}/adapter.toml"], w, self.env)

    def start(self):
        for i, name in enumerate(self.cores):
            core = self.children[name]
            core.start()
            core.wait_ready()
            if i == 0:  # once, through the first node: the others see them at their next heartbeat
                for code, role, sector in ORGS:
                    self.tool("linkctl", "org", "add", "--socket", self.admin_socket, "--code", code,
                              "--name", f"Crash {code}", "--sector", sector, "--role", role)
        for name in ["matcher"] + ADAPTERS:
            self.children[name].start()
            self.children[name].wait_ready()
        for org in ADAPTERS:
            with open(f"{self.work}/adapters/{org}/api-token", encoding="utf-8") as f:
                self.tokens[org] = f.read().strip()
        self.wait_connected()

    def stop(self):
        for name in list(reversed(ADAPTERS)) + ["matcher"] + self.cores:
            if name in self.children:
                self.children[name].stop()
        if self.postgres:
            self.postgres.stop()

    def api(self, org, method, path, body=None, timeout=60):
        """(HTTP status, JSON body) from an adapter's local API; (0, None) when it did not answer."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"http://127.0.0.1:{self.api_port[org]}{path}", data=data, method=method,
                                         headers={"Authorization": f"Bearer {self.tokens[org]}",
                                                  "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            try:
                return error.code, json.loads(error.read() or b"null")
            except ValueError:
                return error.code, None
        except (OSError, ValueError):
            return 0, None

    def wait_connected(self, timeout=SETTLE_SECONDS):
        deadline = time.monotonic() + timeout
        for org in ADAPTERS:
            while True:
                status, body = self.api(org, "GET", "/status", timeout=10)
                if status == 200 and body and body.get("core_connected") is True:
                    break
                if time.monotonic() > deadline:
                    raise NetworkDown(f"{org}'s adapter not connected to the core within {timeout} s")
                time.sleep(0.1)

    def core_db(self):
        """The core's database, read-only: SQLite, or PostgreSQL through psql."""
        return crash_loop_pg.PsqlCore(self.postgres) if self.postgres else read_only(self.db("core"))

    def db(self, name):
        return {"core": f"{self.work}/state/linkcore.sqlite", "registry": f"{self.work}/registry.sqlite"}.get(
            name, f"{self.work}/adapters/{name}/adapter.sqlite")


def person(org, resident_code):
    return f"{org}-{resident_code}"


# ---------------------------------------------------------------------------------------------
class Load:
    """Mixed load in threads until stopped: links, mediations, changes, the events' receivers."""

    def __init__(self, net, journal, rng):
        self.net, self.journal, self.rng = net, journal, rng
        self.lock = threading.Lock()
        self.linked = {org: set() for org in ADAPTERS}  # resident codes each org holds a link for
        self.unlinked = [(org, code, number) for code, number in net.residents for org in ADAPTERS]
        rng.shuffle(self.unlinked)
        self.stop_flag = threading.Event()
        self.threads = []
        self.refusals = {}  # (operation, HTTP status, error code) -> count: what was not acknowledged

    def refused(self, op, status, body):
        code = body.get("error", {}).get("code", "") if isinstance(body, dict) else ""
        key = (op, status, code or ("no reply" if status == 0 else ""))
        with self.lock:
            self.refusals[key] = self.refusals.get(key, 0) + 1

    def link_one(self, org, code, number):
        status, body = self.net.api(org, "POST", "/links", {"person_id": person(org, code),
                                                          "consent_ref": f"crash-{org}-{code}", "my_number": number})
        if status == 201 and body and body.get("link_code"):
            self.journal.add(op="link", org=org, resident=code, link_code=body["link_code"])
            with self.lock:
                self.linked[org].add(code)
            return True
        self.refused("link", status, body)
        return False

    def pre_link(self, count):
        """Links the first residents at every organisation, so mediations have people to ask about."""
        for code, number in self.net.residents[:count]:
            for org in ADAPTERS:
                if not self.link_one(org, code, number):
                    raise NetworkDown(f"pre-link {org} {code} failed")
                self.unlinked.remove((org, code, number))

    def _links(self, rng):
        while not self.stop_flag.is_set():
            with self.lock:
                if not self.unlinked:
                    break
                org, code, number = self.unlinked.pop(0)
            if not self.link_one(org, code, number):
                with self.lock:
                    self.unlinked.append((org, code, number))  # not acknowledged: asked again later
                self.stop_flag.wait(0.2)

    def _mediations(self, rng):
        while not self.stop_flag.is_set():
            requester, provider, bp, info = rng.choice(FLOWS)
            with self.lock:
                both = sorted(self.linked[requester] & self.linked[provider])
            if not both:
                self.stop_flag.wait(0.1)
                continue
            code = rng.choice(both)
            status, body = self.net.api(requester, "POST", "/ask", {"person_id": person(requester, code),
                                                                   "provider_org": provider, "bp_id": bp, "info_type": info})
            if status == 200 and body and body.get("mediation_id"):
                self.journal.add(op="mediation", id=body["mediation_id"], requester=requester, provider=provider,
                                 resident=code, fee=requester == PAYER)
            else:
                self.refused("mediation", status, body)
                self.stop_flag.wait(0.1)

    def _changes(self, rng):
        while not self.stop_flag.is_set():
            with self.lock:
                anyone = sorted(self.linked["CITY01"])
            if anyone:
                code = rng.choice(anyone)
                result = subprocess.run([f"{self.net.bin}/linkcore-matcher", "registry", "change", "--db",
                                         self.net.db("registry"), "--resident", code, "--moved",
                                         f"東京都新宿区西新宿{rng.randint(1, 8)}丁目{rng.randint(1, 30)}番1号"],
                                        env=self.net.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                if result.returncode == 0:
                    self.journal.add(op="change", resident=code)
                else:
                    self.refused("change", result.returncode, None)
            self.stop_flag.wait(rng.uniform(0.2, 0.6))

    def receive(self, org):
        """One pass of an organisation's system over its change events: list, then acknowledge."""
        status, body = self.net.api(org, "GET", "/events", timeout=30)
        if status != 200 or not body or not body.get("events"):
            return 0
        ids = [e["event_id"] for e in body["events"]]
        status, _ = self.net.api(org, "POST", "/events/ack", {"event_ids": ids}, timeout=30)
        if status == 200:
            for event_id in ids:
                self.journal.add(op="event_ack", org=org, event_id=event_id)
            return len(ids)
        return 0

    def _receiver(self, rng):
        while not self.stop_flag.is_set():
            for org in ADAPTERS:
                self.receive(org)
            self.stop_flag.wait(0.3)

    def start(self):
        self.stop_flag.clear()
        self.threads = []
        for work in (self._links, self._mediations, self._mediations, self._changes, self._receiver):
            t = threading.Thread(target=work, args=(random.Random(self.rng.random()),), daemon=True)
            t.start()
            self.threads.append(t)

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join()


# ---------------------------------------------------------------------------------------------
def settle(net, load):
    """Waits until every change is reported and every event delivered and handled."""
    net.wait_connected()
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        for org in ADAPTERS:
            load.receive(org)
        reg = read_only(net.db("registry"))
        last = reg.execute("SELECT coalesce(max(sequence), 0) FROM resident_changes").fetchone()[0]
        reported = reg.execute("SELECT reported_sequence FROM change_reporting WHERE id = 1").fetchone()[0]
        reg.close()
        core = net.core_db()
        pending = core.execute("SELECT count(*) FROM event_outbox WHERE acked_at IS NULL").fetchone()[0]
        core.close()
        open_events = 0
        for org in ADAPTERS:
            a = read_only(net.db(org))
            open_events += a.execute("SELECT count(*) FROM events WHERE acknowledged_at_ms IS NULL").fetchone()[0]
            a.close()
        if reported >= last and pending == 0 and open_events == 0:
            return
        if time.monotonic() > deadline:
            return  # the checks say what is missing


def check(net, journal):
    """The invariants, from outside. Returns (violations, counts)."""
    bad = []
    core = net.core_db()
    counts = {}

    # Every acknowledged (answered) mediation has exactly one answered access-log entry. The
    # adapter retries a question under one idempotency key, so attempts that were not answered
    # (provider restarting: outcome 4) are logged under the same mediation id before it, each a
    # decision of its own (protocol.md §8, "Retries"); they are counted apart, not as duplicates.
    mediations = journal.of("mediation")
    per_id = dict(core.execute("SELECT mediation_id, count(*) FROM access_log WHERE outcome = 1 GROUP BY mediation_id"))
    for m in mediations:
        if per_id.get(m["id"], 0) != 1:
            bad.append(f"mediation {m['id']} ({m['requester']}→{m['provider']}) has {per_id.get(m['id'], 0)} answered access-log entries")
    ids = {m["id"] for m in mediations}
    counts["attempts"] = sum(1 for (mid,) in core.execute("SELECT mediation_id FROM access_log WHERE outcome != 1") if mid in ids)
    if len({m["id"] for m in mediations}) != len(mediations):
        bad.append("a mediation id was acknowledged twice")
    counts["mediations"] = len(mediations)

    # Every received link code opens to a live row of the ID table for its organisation.
    links = journal.of("link")
    live = set(core.execute("SELECT id_code, org_code FROM links WHERE unlinked_at IS NULL"))
    for link in links:
        id_code = open_link_code(net.master, link["org"], link["link_code"])
        if id_code is None:
            bad.append(f"{link['org']}'s link code {link['link_code']} does not open under its key")
        elif (id_code, link["org"]) not in live:
            bad.append(f"{link['org']}'s link code {link['link_code']} (resident {link['resident']}) has no live link")
    counts["links"] = len(links)

    # Changes: every recorded change reported to the core, exactly once.
    reg = read_only(net.db("registry"))
    instance, reported = reg.execute("SELECT instance, reported_sequence FROM change_reporting WHERE id = 1").fetchone()
    sequences = [r[0] for r in reg.execute("SELECT sequence FROM resident_changes ORDER BY sequence")]
    reg.close()
    report_ids = {r[0] for r in core.execute("SELECT report_id FROM change_reports WHERE reporter = 'MATCHER'")}
    changes = journal.of("change")
    if len(sequences) < len(changes):
        bad.append(f"{len(changes)} changes acknowledged by the clerk's command, {len(sequences)} in the registry")
    missing = [s for s in sequences if f"{instance}-{s}" not in report_ids]
    if missing:
        bad.append(f"{len(missing)} registry changes never reached the core (first sequence {missing[0]}; reported up to {reported})")
    counts["changes"] = len(changes)

    # Events: every event the core queued was delivered (acknowledged by the adapter) and handled by
    # the organisation; none acknowledged twice by the organisation's system.
    outbox = list(core.execute("SELECT event_id, org_code, acked_at FROM event_outbox"))
    adapter_events = {}
    for org in ADAPTERS:
        a = read_only(net.db(org))
        adapter_events[org] = dict(a.execute("SELECT event_id, acknowledged_at_ms FROM events"))
        a.close()
    for event_id, org, acked_at in outbox:
        if acked_at is None:
            bad.append(f"event {event_id} for {org} never delivered (not acknowledged at the core)")
        elif event_id not in adapter_events[org]:
            bad.append(f"event {event_id} acknowledged at the core but not in {org}'s adapter (lost)")
        elif adapter_events[org][event_id] is None:
            bad.append(f"event {event_id} delivered to {org} but never handed to its system")
    # Every change recorded after an organisation's link to the resident was acknowledged reached
    # that organisation: at least that many events under its link code (a change recorded just
    # before the link may add one; events are never merged).
    link_of = {(link["org"], link["resident"]): link["link_code"] for link in links}
    events_per_code = {}
    for org in ADAPTERS:
        a = read_only(net.db(org))
        for (code,) in a.execute("SELECT link_code FROM events"):
            events_per_code[(org, code)] = events_per_code.get((org, code), 0) + 1
        a.close()
    expected, linked_before = {}, set()
    for entry in journal.entries_snapshot():
        if entry["op"] == "link":
            linked_before.add((entry["org"], entry["resident"]))
        elif entry["op"] == "change":
            for org in ADAPTERS:
                if (org, entry["resident"]) in linked_before:
                    expected[(org, entry["resident"])] = expected.get((org, entry["resident"]), 0) + 1
    for (org, resident), n in sorted(expected.items()):
        got = events_per_code.get((org, link_of[(org, resident)]), 0)
        if got < n:
            bad.append(f"{org} received {got} change events for resident {resident}, {n} changes recorded after its link")
    acks = journal.of("event_ack")
    seen = {}
    for a in acks:
        seen[(a["org"], a["event_id"])] = seen.get((a["org"], a["event_id"]), 0) + 1
    for (org, event_id), n in seen.items():
        if n > 1:
            bad.append(f"event {event_id} acknowledged {n} times by {org}'s system")
        if adapter_events[org].get(event_id) is None:
            bad.append(f"event {event_id} acknowledged by {org}'s system but not recorded as handled")
    outbox_ids = {(org, e) for e, org, _ in outbox}
    for org in ADAPTERS:
        for event_id in adapter_events[org]:
            if (org, event_id) not in outbox_ids:
                bad.append(f"{org}'s adapter holds event {event_id} the core never queued for it")
    counts["events"] = len(outbox)

    # Fees: one ledger row per charged operation (operation, reference is UNIQUE in the schema;
    # this counts again), every charged mediation acknowledged is in it, and nothing is charged
    # that did not happen.
    ledger = list(core.execute("SELECT operation, reference, payer FROM fee_ledger"))
    by_key = {}
    for operation, reference, payer in ledger:
        by_key[(operation, reference)] = by_key.get((operation, reference), 0) + 1
    for key, n in by_key.items():
        if n > 1:
            bad.append(f"fee {key} charged {n} times")
    charged_mediations = {ref for (op, ref) in by_key if op == "mediation"}
    payer_log = {r[0] for r in core.execute("SELECT mediation_id FROM access_log WHERE requester = ? AND outcome = 1", (PAYER,))}
    for m in mediations:
        if m["fee"] and m["id"] not in charged_mediations:
            bad.append(f"{PAYER}'s mediation {m['id']} acknowledged but not charged")
    for ref in charged_mediations - payer_log:
        bad.append(f"mediation fee {ref} charged without a mediation of {PAYER} in the access log")
    a = read_only(net.db(PAYER))
    numbers = dict(a.execute("SELECT link_code, matching_number FROM links"))
    a.close()
    charged_links = {ref for (op, ref) in by_key if op == "link_issuance"}
    for link in links:
        if link["org"] == PAYER and numbers.get(link["link_code"]) not in charged_links:
            bad.append(f"{PAYER}'s link {link['link_code']} acknowledged but its issuance not charged")
    charged_events = {ref for (op, ref) in by_key if op == "event_delivery"}
    delivered = {e for e, org, acked in outbox if org == PAYER and acked is not None}
    unqueued = charged_events - {e for e, org, _ in outbox if org == PAYER}
    if unqueued:
        bad.append(f"{len(unqueued)} event-delivery fees for events the core never queued for {PAYER}")
    if len(charged_events) != len(delivered):
        bad.append(f"{len(delivered)} events delivered to {PAYER}, {len(charged_events)} charged")
    counts["fees"] = len(ledger)
    core.close()

    # The access log's hash chain and signed checkpoints.
    verify = subprocess.run([f"{net.bin}/linkctl", "audit", "verify", "--socket", net.admin_socket],
                            env=net.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if verify.returncode != 0:
        bad.append(f"linkctl audit verify exited {verify.returncode}: {verify.stdout.strip()[-300:]}")
    return bad, counts


# ---------------------------------------------------------------------------------------------
def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("cycles", type=int)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--bin", required=True, help="directory of the built binaries")
    parser.add_argument("--dir", default=None, help="work directory (default: a new temporary one, removed on success)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--postgres", action="store_true", help="two linkcored nodes on a private PostgreSQL server")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    work = args.dir or tempfile.mkdtemp(prefix="linkcore-crash-")
    os.makedirs(work, exist_ok=True)
    os.chmod(work, 0o700)
    rng = random.Random(seed)
    print(f"crash loop: {args.cycles} cycles, seed {seed}, binaries {args.bin}, work {work}"
          + (", two nodes on PostgreSQL" if args.postgres else ""), flush=True)
    net = Network(work, args.bin, seed, postgres=args.postgres)
    journal = Journal(os.path.join(work, "journal.jsonl"))
    failures, ready_times, started, load = [], {}, time.monotonic(), None
    try:
        # Enough residents that link requests go on through every cycle (about 20 a cycle here).
        net.setup(residents=max(100, args.cycles * 20))
        net.start()
        load = Load(net, journal, random.Random(rng.random()))
        load.pre_link(10)
        for cycle in range(1, args.cycles + 1):
            load.start()
            moment = rng.uniform(0.5, 3.0)
            time.sleep(moment)
            victim = rng.choice(net.cores + ["matcher"] + ADAPTERS)
            child = net.children[victim]
            child.kill9()
            child.start()
            ready = child.wait_ready()
            ready_times.setdefault(victim, []).append(ready)
            time.sleep(rng.uniform(0.5, 1.5))  # load goes on against the restarted process
            load.stop()
            settle(net, load)
            bad, counts = check(net, journal)
            print(f"cycle {cycle:3d}  kill -9 {victim:<9} at {moment:4.2f} s  READY {ready * 1000:6.0f} ms  "
                  f"mediations {counts['mediations']} (+{counts['attempts']} unanswered attempts)  links {counts['links']}  "
                  f"changes {counts['changes']}  events {counts['events']}  fees {counts['fees']}  violations {len(bad)}", flush=True)
            for b in bad:
                print(f"  VIOLATION: {b}", flush=True)
            failures += [f"cycle {cycle}: {b}" for b in bad]
            if bad:
                break  # later cycles would repeat the same findings
    except NetworkDown as error:
        print(f"NETWORK DOWN: {error}", flush=True)
        print(f"work directory kept: {work}")
        return 2
    finally:
        net.stop()
    print(f"summary: seed {seed}, {sum(len(t) for t in ready_times.values())} kills in "
          f"{time.monotonic() - started:.0f} s; acknowledged: {len(journal.of('mediation'))} mediations, "
          f"{len(journal.of('link'))} links, {len(journal.of('change'))} changes, "
          f"{len(journal.of('event_ack'))} events handled; violations {len(failures)}")
    if load is not None and load.refusals:
        print("  not acknowledged (retried or dropped by the load generator, never counted): " + ", ".join(
            f"{op} {status} {code}".rstrip() + f" ×{n}" for (op, status, code), n in sorted(load.refusals.items())))
    for victim, times in sorted(ready_times.items()):
        times = sorted(times)
        print(f"  READY after kill -9 of {victim:<9}: n={len(times):3d}  median {times[len(times) // 2] * 1000:6.0f} ms  "
              f"max {times[-1] * 1000:6.0f} ms")
    if failures:
        print(f"FAILED: {len(failures)} violated invariants; work directory kept: {work}")
        return 1
    if not args.keep and not args.dir:
        shutil.rmtree(work, ignore_errors=True)
    print("PASSED: no acknowledged operation lost or duplicated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
