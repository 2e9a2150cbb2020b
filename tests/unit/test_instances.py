"""`python -m infra.run --instances`: how many of each service, and their HTTP addresses."""

import argparse

import pytest

from infra.run import Processes, instance_addresses, parse_instances


def test_one_count_for_every_service_or_counts_per_service():
    assert parse_instances("3") == {"*": 3}
    assert parse_instances("2,gateway=3, care=1") == {"*": 2, "gateway": 3, "care": 1}
    assert parse_instances("gateway=2") == {"*": 1, "gateway": 2}
    processes = Processes(parse_instances("2,gateway=3"))
    assert (processes.count("gateway"), processes.count("marriage"), processes.count("partner-simulator")) == (3, 2, 1)


@pytest.mark.parametrize("spec", ["0", "x", "marriage=0", "nosuch=2", "2,gateway=-1"])
def test_bad_counts_are_refused(spec):
    with pytest.raises(argparse.ArgumentTypeError):
        parse_instances(spec)


def test_each_instance_listens_on_its_own_port():
    assert instance_addresses("127.0.0.1:8101", 3, 1000) == ["127.0.0.1:8101", "127.0.0.1:9101", "127.0.0.1:10101"]
    assert instance_addresses("127.0.0.1:8600", 1, 10) == ["127.0.0.1:8600"]
