"""``pricing.node_key``: which catalog row prices a node, and how the key was built."""

from __future__ import annotations

from finops_cli.pricing import load_catalog
from finops_cli.pricing.node_key import gpu_count_note, node_key


def test_an_n1_node_with_an_accelerator_is_keyed_machine_plus_accelerator():
    key = node_key("n1-standard-4", "nvidia-tesla-t4")
    assert key.key == "n1-standard-4+nvidia-tesla-t4" and key.attached
    assert "cloud.google.com/gke-accelerator" in key.built_from
    price = load_catalog().lookup(key.key, "us-central1", "on-demand")
    assert price is not None and price.per_gpu_hourly == price.instance_hourly / price.gpu_count


def test_machines_with_built_in_gpus_and_other_clouds_are_keyed_by_type_alone():
    assert node_key("a2-highgpu-1g", "nvidia-tesla-a100").key == "a2-highgpu-1g"
    assert node_key("g2-standard-4", "nvidia-l4").key == "g2-standard-4"
    assert node_key("p5.48xlarge").key == "p5.48xlarge"
    assert node_key("n1-standard-4").key == "n1-standard-4"  # no GPU attached: the VM


def test_an_attached_gpu_count_other_than_the_rows_is_noted():
    key = node_key("n1-standard-4", "nvidia-tesla-t4")
    assert gpu_count_note(key, 1, 1) is None
    note = gpu_count_note(key, 1, 2)
    assert note is not None and "1 GPU(s)" in note and "has 2" in note
    assert gpu_count_note(node_key("p5.48xlarge"), 8, 4) is None
