"""Travel-time models: straight lines at a speed, or a road network."""

from engine.travel.base import TravelTimes
from engine.travel.geometric import Euclidean, Haversine
from engine.travel.loaders import (
    DEFAULT_SPEEDS_KMH,
    load_csv_network,
    load_osm_network,
)
from engine.travel.network import RoadNetwork

__all__ = [
    "DEFAULT_SPEEDS_KMH",
    "Euclidean",
    "Haversine",
    "RoadNetwork",
    "TravelTimes",
    "load_csv_network",
    "load_osm_network",
]
