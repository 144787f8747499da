#!/usr/bin/python3
"""The card login round trip under load (issue 15 item 10, second half), against the demo's run/
(./scripts/run.sh has made the card, its account and the card authority). Run by
`Benchmarks/run-portal.sh login`.

What is measured: the PORTAL's part of a login. A second linkcore-portal (the demo's portal.toml
and a copy of its database: the card's binding and account; its own port; [core] pointed nowhere,
since a login never asks the core) serves, in the same run:
  1. GET /login: a visitor session (one durable write) and a challenge: wrk, C connections;
  2. POST /login with the signed challenge: the checks (chain, validity, signature, challenge
     outstanding and spent, certificate status by the demo's OCSP responder, cached per
     max_status_age_ms), the binding, the account, a NEW session (durable), the visitor's
     deleted, the event `login`: N requests from C threads (Python http.client; wall time);
  3. the limit: GET /bench/static, a static page of /login's size from the same server (wrk).
The card signatures are made AHEAD, between 1 and 2, on the SoftHSM2 token by `linkcore-card
sign` (one process per signature, not timed): a card signs at its own pace, whatever the server.
The round trip's rate is 1 / (1/rate(1) + 1/rate(2)) (the server's time per login, both requests).
"""
import http.client, json, os, re, shutil, ssl, subprocess, sys, tempfile, threading, time, urllib.parse

run, bin_dir = sys.argv[1], sys.argv[2]
n = int(os.environ.get("BENCH_LOGINS", "200"))
seconds = int(os.environ.get("BENCH_SECONDS", "10"))
connections = int(os.environ.get("BENCH_CONNECTIONS", "16"))
card, auth_pin = "CARD-90000000001", "0612"
softhsm = dict(os.environ, SOFTHSM2_CONF=run + "/card/softhsm2.conf")
work = tempfile.mkdtemp(prefix="portal-login-bench-")
port = 8444
context = ssl.create_default_context(cafile=run + "/pki/ca.pem")


def say(text):
    print("portal-login-bench: " + text, flush=True)


# The bench portal: the demo's configuration, its own port and database copy, no core.
config = open(run + "/portal.toml", encoding="utf-8").read()
config = config.replace("127.0.0.1:8443", "127.0.0.1:%d" % port).replace(run + "/portal/portal.sqlite", work + "/portal.sqlite")
config = re.sub(r'(\[core\]\naddress = )"[^"]*"', r'\1"127.0.0.1:1"', config)
open(work + "/portal.toml", "w", encoding="utf-8").write(config)
subprocess.run(["sqlite3", run + "/portal/portal.sqlite", ".backup '%s/portal.sqlite'" % work], check=True)


def request(method, path, body=None, headers=None):
    c = http.client.HTTPSConnection("localhost", port, context=context, timeout=60)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r, data


def start(static_bytes):
    log = open(work + "/portal-%d.log" % static_bytes, "w")
    p = subprocess.Popen([bin_dir + "/linkcore-portal", "run", "--config", work + "/portal.toml"], stdout=log, stderr=log,
                         env={"PATH": "/usr/bin:/bin", "LINKCORE_PORTAL_BENCH_STATIC_BYTES": str(static_bytes)})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if request("GET", "/health")[0].status == 200:
                return p
        except OSError:
            pass
        if p.poll() is not None:
            break
        time.sleep(0.05)
    raise SystemExit("the bench portal did not start: " + open(work + "/portal-%d.log" % static_bytes).read())


def wrk(path):
    out = subprocess.run(["wrk", "-t2", "-c%d" % connections, "-d%ds" % seconds, "--latency", "https://localhost:%d%s" % (port, path)],
                         capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)
    errors = "; ".join(line.strip() for line in out.splitlines() if "Non-2xx" in line or "Socket errors" in line) or "none"
    return rate, p50, errors


def attr(page, name, anchor=""):
    page = page[page.find(anchor) + len(anchor):] if anchor else page
    return page.split(name + '="', 1)[1].split('"', 1)[0]


# The /login page's size first, then the portal again with a static page of that size.
p = start(0)
size = len(request("GET", "/login")[1])
p.terminate(); p.wait()
p = start(size)
try:
    certificate = subprocess.run([bin_dir + "/linkcore-card", "certificates", "--card", card], env=softhsm, capture_output=True, text=True,
                                 check=True).stdout.split("# auth\n", 1)[1].split("# ", 1)[0]
    say("wrk: %d connections, 2 threads, %d s each; /login is %d bytes" % (connections, seconds, size))
    static = wrk("/bench/static")
    challenge = wrk("/login")

    say("%d challenges (GET /login), signed ahead on the card by linkcore-card sign (not timed)" % n)
    forms = []
    for _ in range(n):
        r, page = request("GET", "/login")
        page = page.decode()
        cookie = re.search(r"__Host-session=([^;]+)", r.getheader("Set-Cookie")).group(1)
        hex_challenge = attr(page, "data-challenge")
        signature = subprocess.run([bin_dir + "/linkcore-card", "sign", "--card", card, "--app", "auth", "--challenge", hex_challenge],
                                   input=auth_pin + "\n", env=softhsm, capture_output=True, text=True, check=True).stdout.strip()
        forms.append((cookie, urllib.parse.urlencode({"csrf_token": attr(page, "value", 'name="csrf_token"'), "challenge_hex": hex_challenge,
                                                      "certificate_pem": certificate, "signature_hex": signature})))

    say("%d POST /login from %d threads" % (n, connections))
    latencies, statuses, lock = [], {}, threading.Lock()

    def worker(mine):
        for cookie, body in mine:
            t0 = time.monotonic()
            r, _ = request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded", "Cookie": "__Host-session=" + cookie,
                                                    "Origin": "https://localhost:%d" % port})
            with lock:
                latencies.append(time.monotonic() - t0)
                statuses[r.status] = statuses.get(r.status, 0) + 1
    threads = [threading.Thread(target=worker, args=(forms[i::connections],)) for i in range(connections)]
    t0 = time.monotonic()
    for t in threads: t.start()
    for t in threads: t.join()
    wall = time.monotonic() - t0
    verify_rate = n / wall
    latencies.sort()
    if statuses != {303: n}:
        raise SystemExit("logins did not all succeed: %s (see %s)" % (statuses, work))
    round_trip = 1 / (1 / challenge[0] + 1 / verify_rate)
    print("| request | requests/s | p50 | errors |")
    print("|---|---:|---:|---|")
    print("| static page, /login's size (the limit) | %.0f | %s | %s |" % static)
    print("| GET /login (visitor session + challenge) | %.0f | %s | %s |" % challenge)
    print("| POST /login (verify + new session), %d signed ahead | %.0f | %.0fms | none (%d x 303) |"
          % (n, verify_rate, 1000 * latencies[len(latencies) // 2], n))
    print("login round trip (portal's part): %.0f logins/s" % round_trip)
    print("login round trip / static page of the same size: %.3f" % (round_trip / static[0]))
finally:
    p.terminate(); p.wait()
    shutil.rmtree(work, ignore_errors=True)
