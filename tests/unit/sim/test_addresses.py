"""Host IP plan: one loopback IP per host (pool index in the third byte), else no plan."""

from __future__ import annotations

import pytest

from xo.sim.net.addresses import netloc, plan_host_ips


def test_loopback_base_gives_each_host_its_own_ip_per_pool() -> None:
    assert plan_host_ips("127.0.0.1", [3, 2]) == [
        ["127.0.0.1", "127.0.0.2", "127.0.0.3"],
        ["127.0.1.1", "127.0.1.2"],
    ]
    assert plan_host_ips("127.10.0.5", [1]) == [["127.10.0.5"]]


def test_big_pools_get_a_wider_stride_and_stay_distinct() -> None:
    plan = plan_host_ips("127.0.0.1", [300, 2])
    assert plan is not None
    ips = [ip for pool in plan for ip in pool]
    assert len(set(ips)) == 302
    assert plan[1][0] == "127.0.2.1"


@pytest.mark.parametrize("base", ["0.0.0.0", "192.168.1.10", "::1", "localhost"])
def test_other_bases_cannot_be_multiplied(base: str) -> None:
    assert plan_host_ips(base, [2]) is None


def test_a_plan_leaving_loopback_is_refused() -> None:
    with pytest.raises(ValueError, match="do not fit"):
        plan_host_ips("127.255.255.200", [100])


def test_netloc_brackets_ipv6() -> None:
    assert netloc("127.0.0.2", 443) == "127.0.0.2:443"
    assert netloc("::1", 80) == "[::1]:80"
