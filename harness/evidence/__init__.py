"""The evidence model: what every backend fills and the matrix reads.

It knows nothing about Docker or Azure: a backend turns its own signals into
:class:`Observation` records, memory samples and client requests, tagged with the
source ids of the gap matrix.
"""

from harness.evidence.model import (
    TYPED_FACT_KEYS,
    ClientRequest,
    ContainerState,
    Kill,
    MemorySample,
    Observation,
    RunEvidence,
    SourceStatus,
)

__all__ = ["TYPED_FACT_KEYS", "ClientRequest", "ContainerState", "Kill", "MemorySample", "Observation",
           "RunEvidence", "SourceStatus"]
