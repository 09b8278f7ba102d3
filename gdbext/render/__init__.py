"""Renderers: one module per output form (text for people, JSON for programs),
each rendering the same core objects."""
