"""Travel-time models: straight lines at a speed, or a road network."""

from engine.travel.base import TravelTimes
from engine.travel.geometric import Euclidean, Haversine

__all__ = ["Euclidean", "Haversine", "TravelTimes"]
