"""The fake Codex Cloud backend's store and routes without sockets or Codex: the lifecycle on an injected
clock, the prompt markers, best-of-N shapes, list paging, faults, the control API's validation, and the
child environment with its throw-away CODEX_HOME."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cockpit.demo.fake_cloud import PORT_FILE_NAME, child_env, write_cloud_codex_home
from cockpit.demo.fake_cloud.api import Api, Request
from cockpit.demo.fake_cloud.models import Fault, SeedTask, TaskPatch
from cockpit.demo.fake_cloud.requestlog import RequestLog
from cockpit.demo.fake_cloud.store import (
    Store,
    StoreError,
    attempt_file,
    diff_stats,
    new_file_diff,
    parse_markers,
    title_from_prompt,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> Store:
    return Store(delay=0.0, clock=clock)


def _create(store: Store, prompt: str, attempts: int = 1, env: str = "env_fake_main") -> str:
    return str(store.create(prompt=prompt, environment_id=env, attempts=attempts)["id"])


def _turn_status(store: Store, task_id: str) -> str:
    return str(store.details(task_id)["current_assistant_turn"]["turn_status"])


def test_a_task_is_in_progress_for_its_delay_then_completed_with_a_diff(clock: Clock) -> None:
    store = Store(delay=5.0, clock=clock)
    task_id = _create(store, "add a file")
    assert task_id.startswith("task_e_") and len(task_id) == len("task_e_") + 32
    details = store.details(task_id)
    assert details["current_assistant_turn"]["turn_status"] == "in_progress"
    assert "current_diff_task_turn" not in details
    clock.now += 4.9
    assert _turn_status(store, task_id) == "in_progress"
    clock.now += 0.2
    details = store.details(task_id)
    assert details["current_assistant_turn"]["turn_status"] == "completed"
    assert details["task"]["updated_at"] == details["task"]["created_at"] + 5.0
    diff = details["current_diff_task_turn"]["output_items"][0]["diff"]
    assert f"+++ b/{attempt_file(task_id, 1)}" in diff
    assert attempt_file(task_id, 1) == f"cloud_task_{task_id[7:15]}.txt"
    display = store.list_tasks()["items"][0]["task_status_display"]
    assert display["latest_turn_status_display"]["diff_stats"] == {
        "files_modified": 1,
        "lines_added": 2,
        "lines_removed": 0,
    }


def test_markers_select_the_variants(store: Store, clock: Clock) -> None:
    assert parse_markers("x [fake:delay=2.5] [fake:nodiff]").delay == 2.5
    delayed = _create(store, "slow [fake:delay=3]")
    pending = _create(store, "wait [fake:pending]")
    failing = _create(store, "broken [fake:fail]")
    nodiff = _create(store, "talk only [fake:nodiff]")
    assert _turn_status(store, delayed) == "in_progress"
    assert _turn_status(store, failing) == "failed"
    clock.now += 1000
    assert _turn_status(store, delayed) == "completed"
    assert _turn_status(store, pending) == "pending"
    failed = store.details(failing)["current_assistant_turn"]
    assert failed["error"]["code"] == "fake_failure" and failed["error"]["message"]
    assert failed["output_items"] == []
    quiet = store.details(nodiff)
    assert quiet["current_assistant_turn"]["turn_status"] == "completed"
    assert "current_diff_task_turn" not in quiet
    assert all(i["type"] == "message" for i in quiet["current_assistant_turn"]["output_items"])
    store.update(pending, TaskPatch(status="completed"))
    assert _turn_status(store, pending) == "completed"


def test_titles_come_from_the_first_non_blank_prompt_line() -> None:
    assert title_from_prompt("\n  fix   the\tbug  \nmore detail") == "fix the bug"
    assert title_from_prompt("keep [fake:fail] markers") == "keep [fake:fail] markers"
    assert title_from_prompt("x" * 300) == "x" * 100
    assert title_from_prompt("  \n") == "Untitled task"


def test_best_of_n_has_one_sibling_turn_per_extra_attempt(store: Store) -> None:
    task_id = _create(store, "best of three", attempts=3)
    details = store.details(task_id)
    primary = details["current_assistant_turn"]
    assert primary["attempt_placement"] == 0
    assert len(primary["sibling_turn_ids"]) == 2
    display = details["task"]["task_status_display"]["latest_turn_status_display"]
    assert display["sibling_turn_ids"] == primary["sibling_turn_ids"]
    siblings = store.sibling_turns(task_id, primary["id"])["sibling_turns"]
    assert [s["id"] for s in siblings] == primary["sibling_turn_ids"]
    assert [s["attempt_placement"] for s in siblings] == [1, 2]
    for attempt, sibling in enumerate(siblings, start=2):
        (pr,) = [i for i in sibling["output_items"] if i["type"] == "pr"]
        assert f"+++ b/{attempt_file(task_id, attempt)}" in pr["output_diff"]["diff"]
        assert attempt_file(task_id, attempt).endswith(f"_attempt{attempt}.txt")
    with pytest.raises(StoreError) as missing:
        store.sibling_turns(task_id, "turn_nope")
    assert missing.value.status == 404


def test_seeded_diffs_are_per_attempt_and_count_in_the_stats(store: Store) -> None:
    one = new_file_diff("a.txt", "1\n2\n3\n")
    two = "diff --git a/b.txt b/b.txt\n--- a/b.txt\n+++ b/b.txt\n@@ -1,2 +1,1 @@\n-x\n-y\n+z\n"
    seeded = store.seed(SeedTask.model_validate({"prompt": "p", "diff": [one, two], "task_id": "task_e_abc"}))
    assert seeded["id"] == "task_e_abc" and seeded["attempts"] == 2 and seeded["diffs"] == [one, two]
    assert diff_stats(two) == {"files_modified": 1, "lines_added": 1, "lines_removed": 2}
    assert store.list_tasks()["items"][0]["task_status_display"]["latest_turn_status_display"][
        "diff_stats"
    ] == {
        "files_modified": 1,
        "lines_added": 3,
        "lines_removed": 0,
    }
    with pytest.raises(StoreError) as again:
        store.seed(SeedTask(task_id="task_e_abc"))
    assert again.value.status == 409
    with pytest.raises(ValueError):
        SeedTask.model_validate({"diff": [one, two], "attempts": 3})
    with pytest.raises(ValueError):
        SeedTask.model_validate({"task_id": "task/../x"})


def test_list_is_newest_first_in_pages_of_20_with_an_offset_cursor(store: Store, clock: Clock) -> None:
    ids = []
    for n in range(45):
        clock.now += 1
        ids.append(_create(store, f"task {n}", env="env_fake_main" if n % 3 else "env_fake_other"))
    newest_first = ids[::-1]
    first = store.list_tasks(limit=50)
    assert [i["id"] for i in first["items"]] == newest_first[:20] and first["cursor"] == "20"
    second = store.list_tasks(cursor=first["cursor"])
    assert [i["id"] for i in second["items"]] == newest_first[20:40] and second["cursor"] == "40"
    third = store.list_tasks(cursor=second["cursor"])
    assert [i["id"] for i in third["items"]] == newest_first[40:] and third["cursor"] is None
    other = store.list_tasks(environment_id="env_fake_other")
    assert len(other["items"]) == 15 and other["cursor"] is None
    item = first["items"][0]
    assert {"id", "title", "archived", "has_unread_turn"} <= item.keys()
    with pytest.raises(StoreError):
        store.list_tasks(cursor="abc")


def test_faults_match_by_path_and_method_and_run_out(store: Store) -> None:
    store.add_faults([Fault(path_contains="/tasks/list", status=429, count=2, method="get")])
    assert store.take_fault("POST", "/backend-api/wham/tasks/list") is None
    assert store.take_fault("GET", "/backend-api/wham/tasks/list").status == 429  # type: ignore[union-attr]
    assert store.take_fault("GET", "/wham/tasks/list") is not None
    assert store.take_fault("GET", "/wham/tasks/list") is None


def _request(method: str, path: str, body: Any = None, via: str = "direct", **headers: str) -> Request:
    raw = b"" if body is None else json.dumps(body).encode()
    return Request(method, path, {}, headers, raw, via, None)  # type: ignore[arg-type]


def test_routes_and_control_api(tmp_path: Path, store: Store) -> None:
    api = Api(store, RequestLog(tmp_path / "requests.jsonl"))

    def call(*args: Any, **headers: str) -> tuple[int, Any]:
        response = api.handle(_request(*args, **headers))
        return response.status, json.loads(response.body)

    status, created = call(
        "POST",
        "/backend-api/wham/tasks",
        {"new_task": {"environment_id": "env_fake_other", "branch": "dev"}, "metadata": {"best_of_n": 2}},
    )
    assert status == 200
    task_id = created["task"]["id"]
    for prefix in ("/backend-api/wham", "/wham", "/api/codex"):
        status, details = call("GET", f"{prefix}/tasks/{task_id}")
        assert status == 200 and details["task"]["environment_id"] == "env_fake_other"
    assert call("POST", "/wham/tasks", {"new_task": {}})[0] == 400
    assert call("POST", "/wham/tasks", {"new_task": {"environment_id": "env_nope"}})[0] == 400
    assert call("GET", "/wham/tasks/task_e_missing") == (404, {"detail": "task task_e_missing not found"})
    assert [e["id"] for e in call("GET", "/wham/environments/by-repo/github/Fake/Repo")[1]] == [
        "env_fake_main"
    ]
    assert call("GET", "/api/accounts/v1/user-auth-credential/whoami", authorization="Bearer at-1")[0] == 200
    assert call("GET", "/api/accounts/v1/user-auth-credential/whoami", authorization="Bearer x")[0] == 401
    token = call("POST", "/oauth/token", {"grant_type": "refresh_token"})[1]
    assert token["token_type"] == "Bearer" and token["id_token"].count(".") == 2
    # The control API: direct requests only, validated bodies.
    assert call("GET", "/__fake/state", via="tunnel")[0] == 404
    assert call("POST", "/__fake/tasks", {"attempts": 9})[0] == 400
    assert call("POST", f"/__fake/tasks/{task_id}", {"status": "failed"})[1]["status"] == "failed"
    assert call("POST", "/__fake/environments", [{"id": "env_x", "label": "x/y"}])[0] == 200
    assert [e["id"] for e in call("GET", "/wham/environments")[1]] == ["env_x"]
    assert call("POST", "/__fake/faults", {"path_contains": "/environments", "status": 500})[0] == 200
    assert call("GET", "/wham/environments")[0] == 500
    assert call("POST", "/__fake/reset", {})[0] == 200
    assert call("GET", "/__fake/state")[1]["tasks"] == []


def test_child_env_sets_the_proxy_only_with_a_fake_cloud_codex_home(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / PORT_FILE_NAME).write_text("4242\n")
    home = write_cloud_codex_home(tmp_path / "codex-home")
    auth = json.loads((home / "auth.json").read_text())
    assert auth["auth_mode"] == "chatgpt" and auth["tokens"]["id_token"].count(".") == 2
    assert 'cli_auth_credentials_store = "file"' in (home / "config.toml").read_text()
    base = {"PATH": "/bin", "HTTP_PROXY": "x", "ALL_PROXY": "x", "OPENAI_API_KEY": "k", "RUST_BACKTRACE": "1"}
    env = child_env(state, home, base)
    assert env["HTTPS_PROXY"] == env["https_proxy"] == "http://127.0.0.1:4242"
    assert env["NO_PROXY"] == "" and env["CODEX_HOME"] == str(home.resolve())
    assert env["CODEX_CA_CERTIFICATE"] == str((state / "certs" / "ca.pem").resolve())
    assert env["CODEX_CLOUD_TASKS_BASE_URL"] == "https://chatgpt.com/backend-api"
    assert not {"HTTP_PROXY", "ALL_PROXY", "OPENAI_API_KEY", "RUST_BACKTRACE"} & env.keys()
    assert env["PATH"] == "/bin" and "HTTPS_PROXY" not in base
    pat = child_env(state, home, base, access_token="at-1")
    assert pat["CODEX_AUTHAPI_BASE_URL"] == "http://127.0.0.1:4242/api/accounts"
    real = tmp_path / "real-home"
    real.mkdir()
    (real / "auth.json").write_text("{}")
    with pytest.raises(ValueError):
        child_env(state, real, base)
    with pytest.raises(FileExistsError):
        write_cloud_codex_home(real)
