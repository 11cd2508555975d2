"""The LLM fleet advisor: who should take an order, and a second opinion
on a plan.

An :class:`Advisor` asks a backend behind one protocol: a client for any
OpenAI-compatible chat-completions endpoint
(:class:`ChatCompletionsBackend`) or a model of one for simulations
(:class:`ModelledBackend`). Every call is cached, bounded by a timeout,
guarded by a :class:`CircuitBreaker`, strictly validated, and falls back
to the heuristic (:func:`nearest_feasible`, or the solver's plan as it
is); each ends as exactly one :class:`Outcome`.
"""

from engine.advisor.advisor import Advisor, AdvisorConfig, AdvisorHooks
from engine.advisor.backends import (
    AdvisorBackend,
    ChatCompletionsBackend,
    Completion,
)
from engine.advisor.breaker import BreakerConfig, BreakerState, CircuitBreaker
from engine.advisor.cache import AnswerCache, MemoryAnswerCache
from engine.advisor.heuristic import nearest_feasible
from engine.advisor.modelled import (
    FaultWindow,
    LatencyModel,
    ModelConfig,
    ModelledAnswer,
    ModelledBackend,
)
from engine.advisor.question import (
    Advice,
    AssignmentQuestion,
    Candidate,
    Outcome,
    Review,
)

__all__ = [
    "Advice",
    "Advisor",
    "AdvisorBackend",
    "AdvisorConfig",
    "AdvisorHooks",
    "AnswerCache",
    "AssignmentQuestion",
    "BreakerConfig",
    "BreakerState",
    "Candidate",
    "ChatCompletionsBackend",
    "CircuitBreaker",
    "Completion",
    "FaultWindow",
    "LatencyModel",
    "MemoryAnswerCache",
    "ModelConfig",
    "ModelledAnswer",
    "ModelledBackend",
    "Outcome",
    "Review",
    "nearest_feasible",
]
