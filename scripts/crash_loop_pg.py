"""The crash loop's PostgreSQL mode (`crash-loop.sh N --postgres`; issue 17, item 3).

A private PostgreSQL server (initdb in /tmp as the postgres account when run as root, a Unix
socket only, fsync and synchronous_commit on), two linkcored nodes on it (n1, n2: the store on
PostgreSQL, node-to-node mutual TLS) instead of one on SQLite, the matcher and the adapters given
both nodes (alternating which comes first, so mediations cross nodes). The checks read the core's
tables from PostgreSQL with psql (`PsqlCore`, the subset of sqlite3's connection they use).
"""
import glob
import json
import os
import shutil
import subprocess
import tempfile

NODES = ["n1", "n2"]


class PostgresServer:
    def __init__(self, port):
        self.bin = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]
        self.port = port
        # Short: the socket's path must fit in 107 bytes.
        self.dir = tempfile.mkdtemp(prefix="/tmp/lccp-")
        os.chmod(self.dir, 0o755)
        self.as_pg = []
        if os.getuid() == 0:  # initdb and postgres refuse root
            shutil.chown(self.dir, "postgres", "postgres")
            self.as_pg = ["runuser", "-u", "postgres", "--"]

    def _run(self, *argv):
        subprocess.run(self.as_pg + [os.path.join(self.bin, argv[0]), *argv[1:]], check=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def start(self):
        self._run("initdb", "-D", f"{self.dir}/data", "-U", "linkcore", "--auth=trust", "--encoding=UTF8",
                  "--locale=C", "--no-sync")
        self._run("pg_ctl", "-D", f"{self.dir}/data", "-l", f"{self.dir}/server.log", "-w", "-t", "60", "start", "-o",
                  f"-p {self.port} -c listen_addresses='' -c unix_socket_directories={self.dir} -c fsync=on "
                  "-c synchronous_commit=on")
        self.query("CREATE DATABASE linkcore", database="postgres", rows=False)

    def stop(self):
        try:
            self._run("pg_ctl", "-D", f"{self.dir}/data", "stop", "-m", "fast")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def url(self):
        return f"postgresql://linkcore@/linkcore?host={self.dir}&port={self.port}"

    def query(self, sql, database="linkcore", rows=True):
        """The rows as tuples of JSON values (numbers as int, NULL as None), in column order."""
        text = f"SELECT coalesce(json_agg(to_json(q)), '[]') FROM ({sql}) q" if rows else sql
        out = subprocess.run([os.path.join(self.bin, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                              "-h", self.dir, "-p", str(self.port), "-U", "linkcore", "-d", database, "-c", text],
                             check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True).stdout
        if not rows:
            return []
        return json.loads(out, object_pairs_hook=lambda pairs: tuple(v for _, v in pairs))


class PsqlCore:
    """What the checks use of a sqlite3 connection (`execute` with `?` parameters, rows
    iterable or `fetchone`, `close`), on the core's PostgreSQL database."""

    def __init__(self, server):
        self.server = server

    def execute(self, sql, params=()):
        for p in params:
            sql = sql.replace("?", "'" + str(p).replace("'", "''") + "'", 1)
        return Rows(self.server.query(sql))

    def close(self):
        pass


class Rows(list):
    def fetchone(self):
        return self[0] if self else None


def node_config(net, node, text, ports):
    """linkcored.local.toml made a node's: its own ports, state and admin socket, [store] on the
    server, [node] with its certificate (the cluster demo's edit, scripts/cluster-demo.sh)."""
    w = net.work
    client, node_port = ports
    out = []
    for line in text.splitlines():
        if line.startswith("state_directory = "):
            line = f'state_directory = "{w}/{node}/state"'
        elif line.startswith("addresses = ") and f"127.0.0.1:{net.core_port}" in line:
            line = f'addresses = ["127.0.0.1:{client}"]'
        elif line.startswith("admin_socket = "):
            line = f'admin_socket = "{w}/{node}/admin.sock"'
        out.append(line)
    out.append(f"""
[store]
engine = "postgresql"
connection = "{w}/postgresql.conn"

[node]
name = "{node}"
listen = ["127.0.0.1:{node_port}"]
certificate = "{w}/pki/nodes/{node}.pem"
private_key = "{w}/pki/nodes/{node}.key"
""")
    return "\n".join(out)


def core_list(net, first):
    """The TOML list of the nodes' client addresses, `first` first."""
    order = NODES[NODES.index(first):] + NODES[:NODES.index(first)]
    return "[" + ", ".join(f'"127.0.0.1:{net.node_ports[n][0]}"' for n in order) + "]"
