#!/usr/bin/env python3
"""The Windows zip's task definition and docs/windows.md, checked without Windows.

Usage: tests/windows/task_xml.py ZIP DOCS_WINDOWS_MD   (run by scripts/check-windows)

1. polyteia-db-connector-task.xml is UTF-16 with a byte order mark (what schtasks /xml
   expects), well-formed, and every element it uses is one the Task Scheduler schema
   (namespace http://schemas.microsoft.com/windows/2004/02/mit/task, version 1.2) allows
   at that place, in the schema's order where the schema has one, with a value of the
   schema's type; the schema's required elements are there.
2. What the task does: connector.exe run --env-file ..., as a named account (not SYSTEM),
   least privilege, no second instance, a time limit.
3. docs/windows.md lists exactly the files in the zip (its "Contents of the zip" table),
   and every file name in its commands that belongs to the zip exists in it.
Only the Python standard library is used.
"""
import re
import sys
import xml.etree.ElementTree as ET
import zipfile

NS = "http://schemas.microsoft.com/windows/2004/02/mit/task"

BOOL = ("bool", None)
DURATION = ("duration", None)
DATETIME = ("datetime", None)
TEXT = ("text", None)


def enum(*values):
    return ("enum", values)


def integer(low, high):
    return ("int", (low, high))


# The part of the Task Scheduler schema (taskschedulerschema.xsd, version 1.2) this
# definition may use: element -> (children in schema order or None for a leaf,
# whether the children are ordered (xs:sequence) or not (xs:all), required children,
# leaf type). Children not listed here are refused, so a new element needs a line here.
SCHEMA = {
    "Task": (["RegistrationInfo", "Triggers", "Settings", "Data", "Principals", "Actions"], False, ["Actions"], None),
    "RegistrationInfo": (["URI", "SecurityDescriptor", "Source", "Date", "Author", "Version", "Description", "Documentation"], False, [], None),
    "Author": (None, None, [], TEXT),
    "Description": (None, None, [], TEXT),
    "URI": (None, None, [], TEXT),
    "Date": (None, None, [], DATETIME),
    "Triggers": (["BootTrigger", "RegistrationTrigger", "IdleTrigger", "TimeTrigger", "EventTrigger", "LogonTrigger", "SessionStateChangeTrigger", "CalendarTrigger"], False, [], None),
    "CalendarTrigger": (["Enabled", "StartBoundary", "EndBoundary", "Repetition", "ExecutionTimeLimit", "RandomDelay", "ScheduleByDay", "ScheduleByWeek", "ScheduleByMonth", "ScheduleByMonthDayOfWeek"], False, ["StartBoundary"], None),
    "StartBoundary": (None, None, [], DATETIME),
    "EndBoundary": (None, None, [], DATETIME),
    "RandomDelay": (None, None, [], DURATION),
    "ScheduleByDay": (["DaysInterval"], True, [], None),
    "DaysInterval": (None, None, [], integer(1, 365)),
    "Principals": (["Principal"], True, ["Principal"], None),
    "Principal": (["UserId", "LogonType", "GroupId", "DisplayName", "RunLevel", "ProcessTokenSidType", "RequiredPrivileges"], False, [], None),
    "UserId": (None, None, [], TEXT),
    "LogonType": (None, None, [], enum("S4U", "Password", "InteractiveToken", "InteractiveTokenOrPassword", "ServiceAccount")),
    "RunLevel": (None, None, [], enum("LeastPrivilege", "HighestAvailable")),
    "Settings": (["AllowStartOnDemand", "RestartOnFailure", "MultipleInstancesPolicy", "DisallowStartIfOnBatteries", "StopIfGoingOnBatteries", "AllowHardTerminate", "StartWhenAvailable", "NetworkProfileName", "RunOnlyIfNetworkAvailable", "WakeToRun", "Enabled", "Hidden", "DeleteExpiredTaskAfter", "IdleSettings", "NetworkSettings", "ExecutionTimeLimit", "Priority", "RunOnlyIfIdle", "UseUnifiedSchedulingEngine", "DisallowStartOnRemoteAppSession"], False, [], None),
    "MultipleInstancesPolicy": (None, None, [], enum("Parallel", "Queue", "IgnoreNew", "StopExisting")),
    "ExecutionTimeLimit": (None, None, [], DURATION),
    "Priority": (None, None, [], integer(0, 10)),
    "IdleSettings": (["Duration", "WaitTimeout", "StopOnIdleEnd", "RestartOnIdle"], False, [], None),
    "Actions": (["Exec"], True, ["Exec"], None),
    "Exec": (["Command", "Arguments", "WorkingDirectory"], True, ["Command"], None),
    "Command": (None, None, [], TEXT),
    "Arguments": (None, None, [], TEXT),
    "WorkingDirectory": (None, None, [], TEXT),
}
for name in ("Enabled", "AllowStartOnDemand", "DisallowStartIfOnBatteries", "StopIfGoingOnBatteries",
             "AllowHardTerminate", "StartWhenAvailable", "RunOnlyIfNetworkAvailable", "WakeToRun", "Hidden",
             "RunOnlyIfIdle", "StopOnIdleEnd", "RestartOnIdle"):
    SCHEMA[name] = (None, None, [], BOOL)
ATTRIBUTES = {"Task": {"version"}, "Principal": {"id"}, "Actions": {"Context"}}

DURATION_RE = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$")
DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")

problems = []


def local(tag):
    if not tag.startswith("{" + NS + "}"):
        problems.append(f"element {tag} is not in the Task Scheduler namespace")
        return tag
    return tag[len(NS) + 2:]


def check_value(path, kind, text):
    text = (text or "").strip()
    shape, arg = kind
    if shape == "bool" and text not in ("true", "false"):
        problems.append(f"{path}: {text!r} is not true or false")
    elif shape == "duration" and not DURATION_RE.match(text):
        problems.append(f"{path}: {text!r} is not an ISO 8601 duration")
    elif shape == "datetime" and not DATETIME_RE.match(text):
        problems.append(f"{path}: {text!r} is not a date and time")
    elif shape == "enum" and text not in arg:
        problems.append(f"{path}: {text!r} is not one of {', '.join(arg)}")
    elif shape == "int" and not (text.isdigit() and arg[0] <= int(text) <= arg[1]):
        problems.append(f"{path}: {text!r} is not a number from {arg[0]} to {arg[1]}")
    elif shape == "text" and not text:
        problems.append(f"{path} is empty")


def walk(element, path):
    name = local(element.tag)
    path = f"{path}/{name}"
    if name not in SCHEMA:
        problems.append(f"{path}: not an element this check knows of the Task Scheduler schema")
        return
    children, ordered, required, leaf = SCHEMA[name]
    for attribute in element.attrib:
        if attribute not in ATTRIBUTES.get(name, set()):
            problems.append(f"{path}: attribute {attribute} is not allowed")
    kids = list(element)
    if children is None:
        if kids:
            problems.append(f"{path} must hold a value, not elements")
        check_value(path, leaf, element.text)
        return
    if (element.text or "").strip():
        problems.append(f"{path} holds text outside its elements")
    names = [local(k.tag) for k in kids]
    for child in names:
        if child not in children:
            problems.append(f"{path}: {child} is not allowed here (allowed: {', '.join(children)})")
    if ordered:
        positions = [children.index(c) for c in names if c in children]
        if positions != sorted(positions):
            problems.append(f"{path}: children out of the schema's order: {', '.join(names)}")
    repeatable = name in ("Triggers", "Actions", "Principals")
    for child in set(names):
        if names.count(child) > 1 and not repeatable:
            problems.append(f"{path}: {child} appears more than once")
    for child in required:
        if child not in names:
            problems.append(f"{path}: {child} is required")
    for kid in kids:
        walk(kid, path)


def text_of(root, path):
    element = root.find(path, {"t": NS})
    return None if element is None else (element.text or "").strip()


def main():
    zip_path, docs_path = sys.argv[1:3]
    with zipfile.ZipFile(zip_path) as zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
        top = {n.split("/", 1)[0] for n in names}
        if len(top) != 1:
            sys.exit(f"task_xml: the zip must hold one folder, not {sorted(top)}")
        folder = top.pop()
        files = sorted(n.split("/", 1)[1] for n in names)
        raw = zf.read(f"{folder}/polyteia-db-connector-task.xml")

    # 1. Encoding, well-formedness and the schema.
    if not raw.startswith(b"\xff\xfe"):
        problems.append("the task definition does not start with the UTF-16 (little endian) byte order mark")
    if not raw.decode("utf-16").startswith('<?xml version="1.0" encoding="UTF-16"?>'):
        problems.append("the task definition does not declare encoding UTF-16")
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as e:
        sys.exit(f"task_xml: FAILED: the task definition is not well-formed XML: {e}")
    if root.tag != "{" + NS + "}Task" or root.get("version") not in ("1.2", "1.3", "1.4"):
        problems.append("the root is not a Task of version 1.2 or later in the Task Scheduler namespace")
    walk(root, "")
    principals = {p.get("id") for p in root.iterfind("t:Principals/t:Principal", {"t": NS})}
    context = root.find("t:Actions", {"t": NS}).get("Context")
    if context not in principals:
        problems.append(f"Actions Context {context!r} names no Principal id ({sorted(principals)})")

    # 2. What it runs, as whom, how often at once, for how long.
    command = text_of(root, "t:Actions/t:Exec/t:Command") or ""
    arguments = text_of(root, "t:Actions/t:Exec/t:Arguments") or ""
    if not command.strip('"').lower().endswith("\\connector.exe"):
        problems.append(f"the task runs {command!r}, not connector.exe")
    if not re.match(r'^run --env-file "[^"]+\.env"$', arguments):
        problems.append(f"the task's arguments are {arguments!r}, not run --env-file \"...env\"")
    user = text_of(root, "t:Principals/t:Principal/t:UserId") or ""
    if user.upper() in ("", "SYSTEM", "S-1-5-18", "NT AUTHORITY\\SYSTEM", "ADMINISTRATOR"):
        problems.append(f"the task must run as a dedicated account, not {user!r}")
    if text_of(root, "t:Principals/t:Principal/t:RunLevel") != "LeastPrivilege":
        problems.append("the task must run with least privilege")
    if text_of(root, "t:Settings/t:MultipleInstancesPolicy") not in ("IgnoreNew", "Queue"):
        problems.append("the task must not start a second instance while one runs")
    limit = text_of(root, "t:Settings/t:ExecutionTimeLimit")
    if not limit or limit == "PT0S":
        problems.append("the task needs a time limit (ExecutionTimeLimit)")

    # 3. docs/windows.md and the zip.
    docs = open(docs_path, encoding="utf-8").read()
    section = re.search(r"^## Contents of the zip\n(.*?)(?=^## )", docs, re.S | re.M)
    if not section:
        problems.append("docs/windows.md has no section '## Contents of the zip'")
    else:
        listed = sorted(set(re.findall(r"^\| `([^`]+)` \|", section.group(1), re.M)))
        if listed != files:
            problems.append(
                "docs/windows.md's contents table differs from the zip: "
                f"only in the docs {sorted(set(listed) - set(files))}, only in the zip {sorted(set(files) - set(listed))}"
            )
    if "polyteia-db-connector-<version>-windows-x64.zip" not in docs:
        problems.append("docs/windows.md does not name the zip (polyteia-db-connector-<version>-windows-x64.zip)")
    basenames = {f.rsplit("/", 1)[-1] for f in files}
    for mentioned in sorted(set(re.findall(r"[\w.-]+\.(?:exe|dll|xml|example|txt|duckdb_extension)\b", docs))):
        if mentioned in ("schtasks.exe", "powershell.exe", "bcryptprimitives.dll", "wine.exe"):
            continue
        if mentioned not in basenames and not mentioned.startswith(("connector.log", "token.txt", "password.txt")):
            problems.append(f"docs/windows.md mentions {mentioned}, which is not in the zip")
    if "bcryptprimitives.dll" in basenames:
        problems.append("the zip holds the test-only bcryptprimitives.dll stand-in")

    if problems:
        print("task_xml: FAILED:", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        sys.exit(1)
    print(f"task_xml: the task definition and docs/windows.md agree with {zip_path} ({len(files)} files)")


if __name__ == "__main__":
    main()
