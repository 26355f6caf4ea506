"""A node that is not in a swarm: Docker's 503 answers (docker-py's tearDown calls
leave_swarm and accepts them), and a clear 501 for the calls that would start swarm mode."""

from __future__ import annotations

import json

import pytest
from support.daemon import WharfieDaemon

NOT_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" '
               "to connect this node to swarm and try again.")


def test_sdk_swarm_calls_answer_like_a_node_outside_a_swarm(sdk) -> None:
    import docker as docker_sdk

    sdk.swarm.leave(force=True)  # docker-py ignores Docker's 503 "not part of a swarm"
    assert sdk.api.leave_swarm(force=True) is True
    calls = [sdk.nodes.list, sdk.services.list, sdk.secrets.list, sdk.configs.list,
             lambda: sdk.api.tasks(), lambda: sdk.api.inspect_swarm(), lambda: sdk.api.get_unlock_key(),
             lambda: sdk.api.inspect_node("x"), lambda: sdk.api.inspect_service("web"),
             lambda: sdk.api.create_secret("s", b"data")]
    for call in calls:
        with pytest.raises(docker_sdk.errors.APIError) as e:
            call()
        assert e.value.status_code == 503 and e.value.explanation == NOT_MANAGER
    with pytest.raises(docker_sdk.errors.APIError) as e:
        sdk.swarm.init()
    assert e.value.status_code == 501 and "swarm mode is not supported" in str(e.value.explanation)
    assert sdk.info()["Swarm"]["LocalNodeState"] == "inactive"


def test_raw_statuses(daemon: WharfieDaemon) -> None:
    for method, path, status in (("POST", "/swarm/leave", 503), ("GET", "/swarm", 503),
                                 ("POST", "/swarm/update?version=1", 503), ("POST", "/swarm/unlock", 503),
                                 ("GET", "/v1.50/tasks/abc/logs", 503), ("DELETE", "/configs/c1", 503),
                                 ("POST", "/swarm/join", 501), ("GET", "/nosuch", 404)):
        code, _, raw = daemon.request(method, path, body=b"{}" if method == "POST" else None,
                                      headers={"Content-Type": "application/json"})
        body = json.loads(raw)
        assert code == status, (method, path, body)
        if path == "/swarm/leave":
            assert body == {"message": "This node is not part of a swarm"}


def test_cli_swarm_commands(docker) -> None:
    r = docker("node", "ls")
    assert r.rc == 1 and NOT_MANAGER in r.err
    r = docker("service", "ls")
    assert r.rc == 1 and NOT_MANAGER in r.err
    r = docker("swarm", "leave", "--force")
    assert r.rc == 1 and "This node is not part of a swarm" in r.err
    assert docker.ok("info", "--format", "{{.Swarm.LocalNodeState}}").strip() == "inactive"
