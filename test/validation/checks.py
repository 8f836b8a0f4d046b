"""What the validation scripts share: check groups that print one line each,
and CRC-32C to forge stored values (models, light-curve states) whose
checksum is right but whose contents are not."""

import base64
import contextlib
import struct
import sys

import psycopg2

VERBOSE = "-v" in sys.argv[1:]
FAILED = []     # names of the groups that failed


class Group:
    """The checks of one group: counted, failures kept, one line printed.
    Scripts with richer comparisons subclass it and extend parts()."""

    def __init__(self, name):
        self.name = name
        self.checks = 0
        self.failures = []
        self.notes = []

    def fail(self, where, msg):
        self.failures.append(f"{where}: {msg}")

    def check(self, where, cond, msg="condition failed"):
        self.checks += 1
        if not cond:
            self.fail(where, msg)

    def note(self, text):
        self.notes.append(text)

    def parts(self):
        """What the group's line says after its name."""
        return [f"{self.checks} checks"] + self.notes

    def report(self):
        status = "FAIL" if self.failures else "ok  "
        print(f"{status} {self.name}: " + "; ".join(self.parts() or ["nothing compared"]))
        shown = len(self.failures) if VERBOSE else 10
        for f in self.failures[:shown]:
            print(f"       {f}")
        if len(self.failures) > shown:
            print(f"       ... and {len(self.failures) - shown} more failures (-v lists all)")
        if self.failures:
            FAILED.append(self.name)
        sys.stdout.flush()


@contextlib.contextmanager
def database(probe):
    """A connection and cursor to the database the PG* variables name, with
    search_path antares, public.  If the function `probe` (a qualified name)
    is missing, CREATE EXTENSION antares first and DROP it (and the schema it
    made) at the end; what the checks did is rolled back."""
    conn = psycopg2.connect("")
    cur = conn.cursor()
    # not to_regproc: it is NULL for an overloaded name (band_statistics)
    cur.execute("SELECT NOT EXISTS (SELECT FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                " WHERE n.nspname || '.' || p.proname = %s), to_regnamespace('antares') IS NULL",
                (probe,))
    missing, created_schema = cur.fetchone()
    if missing:
        cur.execute("CREATE EXTENSION antares")
        conn.commit()
    cur.execute("SET search_path = antares, public")
    try:
        yield conn, cur
    finally:
        conn.rollback()
        if missing:
            cur.execute("DROP EXTENSION antares")
            if created_schema:
                cur.execute("DROP SCHEMA antares")
            conn.commit()
        conn.close()


def summary():
    """The closing line and the exit status."""
    if FAILED:
        print(f"FAILED: {len(FAILED)} check group(s): {', '.join(FAILED)}")
        return 1
    print("all check groups passed")
    return 0


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


CRC_TABLE = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def seal(header16, payload):
    """A stored value's bytes: header, CRC-32C of header and payload, payload."""
    return header16 + struct.pack("<I", crc32c(header16 + payload)) + payload


def value_text(type_name, raw):
    """The text form of a stored value's bytes: "<kind>/1:<base64>" (svm_model: svm/1:...)."""
    return f"{type_name.removesuffix('_model')}/1:" + base64.b64encode(raw).decode()


def check_refused(g, cur, what, type_name, raw):
    """A forged value of antares.type_name must be refused as text with 22P02."""
    cur.execute("SAVEPOINT forged")
    try:
        cur.execute(f"SELECT %s::antares.{type_name} IS NOT NULL", (value_text(type_name, raw),))
        g.check(what, False, "accepted")
    except psycopg2.Error as e:
        g.check(what, e.pgcode == "22P02", f"SQLSTATE {e.pgcode}: {e.pgerror.strip()}")
        if VERBOSE:
            print(f"       {what}: {e.pgerror.strip()}")
    cur.execute("ROLLBACK TO SAVEPOINT forged")


def check_accepted(g, cur, what, type_name, raw):
    """The untouched value of antares.type_name reads back as the same text."""
    text = value_text(type_name, raw)
    cur.execute(f"SELECT %s::antares.{type_name}::text = %s", (text, text))
    g.check(what, cur.fetchone()[0], "not accepted")
