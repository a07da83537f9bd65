"""The boundary between the job manager and its collaborators, read from the source.

The scheduler and exec get narrow requests and answer by job id: they must not import the
job manager.  The ``.prep`` bridge reads jobs through its jobtap handle: it must not import
the job manager nor reach into it.  The controller's parts are built in one place
(`corral.assembly`), each given its callbacks when it is built: no module assigns another
part's callback or setting afterwards.
"""

import ast
import pathlib

import pytest

SOURCE = pathlib.Path(__file__).resolve().parents[2] / "src" / "corral"

#: What the controller's parts are called where they are held.
PART_NAMES = {"store", "broker", "pool", "scheduler", "manager", "exec", "exec_service",
              "resources", "prep", "bridge", "alloc", "start", "jobtap", "host", "prep_host",
              "remote_nodes", "local_agents", "transport", "instance", "machine", "parts"}
#: Attributes that connect one part to another or set how it behaves: given to constructors.
WIRING_ATTRIBUTES = {"respond", "enforce_time_limits", "prologs_at_start", "node_epilogs"}
#: The parts only `corral.assembly` builds.
PARTS = {"Store", "Scheduler", "Exec", "JobManager", "PrepBridge", "ResourceService"}


def _modules(*packages):
    for package in packages:
        path = SOURCE / package
        yield from sorted(path.rglob("*.py")) if path.is_dir() else [path]


def _tree(path):
    return ast.parse(path.read_text(), str(path))


def _imported(tree, package: str) -> set[str]:
    """The absolute names of the modules a module of ``package`` imports (relative imports
    resolved)."""
    package = package.split(".")
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _relative(path) -> str:
    return str(path.relative_to(SOURCE))


def _package(path) -> str:
    return ".".join(["corral", *path.relative_to(SOURCE).parent.parts])


@pytest.mark.parametrize("package", ["sched", "exec", "agent", "prep"])
def test_collaborators_import_nothing_from_the_job_manager(package):
    offenders = {
        _relative(path): sorted(name for name in _imported(_tree(path), _package(path))
                                if name == "corral.jobmanager"
                                or name.startswith("corral.jobmanager."))
        for path in _modules(package)
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_import_check_sees_relative_imports():
    """The check above would pass on a package that imports the job manager relatively if
    `_imported` did not resolve relative imports: it does."""
    tree = ast.parse("from ..jobmanager import requeue\nfrom . import jobinfo\n"
                     "import corral.jobmanager.event\n")
    assert _imported(tree, "corral.prep") == {
        "corral.jobmanager", "corral.jobmanager.requeue", "corral.prep",
        "corral.prep.jobinfo", "corral.jobmanager.event"}


def test_the_prep_bridge_never_reaches_into_the_job_manager():
    tree = _tree(SOURCE / "prep" / "bridge.py")
    reaches = sorted(
        f"line {node.lineno}: {ast.unparse(node)}" for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and (
            node.attr == "manager" or node.attr.startswith("_") and not (
                isinstance(node.value, ast.Name) and node.value.id == "self")))
    assert reaches == []


def _held_as(expression) -> str | None:
    """The name an expression's object is held under (``exec`` for ``self.parts.exec``)."""
    if isinstance(expression, ast.Name):
        return expression.id
    return expression.attr if isinstance(expression, ast.Attribute) else None


def _wiring(tree, name: str) -> list[str]:
    """Assignments in module ``name`` to an attribute of another part: any outside the job
    manager's own modules (its verbs keep its counters), and everywhere those that connect
    parts (``respond``, ``on_*``, settings exec is built with)."""
    inside_job_manager = name.startswith("jobmanager/")
    found = []
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else [])
        for target in targets:
            if not isinstance(target, ast.Attribute) or _held_as(target.value) not in PART_NAMES:
                continue
            connects = target.attr in WIRING_ATTRIBUTES or target.attr.startswith("on_")
            if connects or not inside_job_manager:
                found.append(f"{name}:{node.lineno}: {ast.unparse(target)} = ...")
    return found


def test_no_module_wires_another_part_after_construction():
    assert [line for path in _modules(".")
            for line in _wiring(_tree(path), _relative(path))] == []


def test_the_wiring_check_sees_what_construction_used_to_patch():
    patched = ast.parse("self.exec.respond = self.manager.start\n"
                        "store.on_failure = stop\n"
                        "machine.exec.enforce_time_limits = False\n"
                        "wait.on_done = on_done\n"  # a record of its own, not a part
                        "manager.running += 1\n")  # the job manager's own counter
    assert _wiring(patched, "jobmanager/start.py") == [
        "jobmanager/start.py:1: self.exec.respond = ...",
        "jobmanager/start.py:2: store.on_failure = ...",
        "jobmanager/start.py:3: machine.exec.enforce_time_limits = ..."]
    assert _wiring(patched, "instance.py")[-1] == "instance.py:5: manager.running = ..."


def test_the_parts_are_built_only_by_the_assembly():
    builds = []
    for path in _modules("."):
        if _relative(path) == "assembly.py":
            continue
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.Call):
                name = node.func.id if isinstance(node.func, ast.Name) else (
                    node.func.attr if isinstance(node.func, ast.Attribute) else None)
                if name in PARTS:
                    builds.append(f"{_relative(path)}:{node.lineno}: {name}(...)")
    assert builds == []
