"""Workload: layers, network DAG, shape inference and YAML loading."""

from cnnmem.workload.layers import Layer, Shape
from cnnmem.workload.library import builtin_networks, load_network, network_path
from cnnmem.workload.loader import load_network_file, load_network_text, parse_network
from cnnmem.workload.network import INPUT, Network

__all__ = [
    "INPUT", "Layer", "Network", "Shape", "builtin_networks", "load_network",
    "load_network_file", "load_network_text", "network_path", "parse_network",
]
