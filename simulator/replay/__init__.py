"""Replay of the public meal-delivery routing benchmark."""
