"""The container's limits (memory, swap, CPU, address space, pids, group kill) and its
restart policy."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    field_validator,
    model_validator,
)

from harness.scenario.fields import MIN_MEMORY, FrozenModel, OptionalSize, Size
from harness.scenario.units import format_size

# ---------------------------------------------------------------------------------------
# Limits and restart policy


class Limits(FrozenModel):
    """The cgroup and rlimit settings the container gets.

    ``oom_group`` makes the container's cgroup kill as a group, as a kubelet of Kubernetes
    1.28 or later does on cgroup v2 (``memory.oom.group`` set to 1): when the kernel
    OOM-kills one process, it kills every process of the container with it.
    """

    memory: Size
    memory_swap: OptionalSize = None
    cpus: Annotated[StrictFloat, Field(gt=0, le=64)] | None = None
    address_space: OptionalSize = None
    pids: Annotated[StrictInt, Field(ge=1)] | None = None
    oom_group: StrictBool = False

    @field_validator("memory")
    @classmethod
    def _memory_floor(cls, value: int) -> int:
        if value < MIN_MEMORY:
            raise ValueError(
                f"must be at least {format_size(MIN_MEMORY)} (Docker's minimum), "
                f"got {format_size(value)}"
            )
        return value

    @field_validator("address_space")
    @classmethod
    def _address_space_positive(cls, value: int | None) -> int | None:
        if value == 0:
            raise ValueError("must be more than 0 bytes")
        return value

    @model_validator(mode="after")
    def _swap_covers_memory(self) -> Limits:
        # Docker's memory-swap is memory plus swap, so it cannot be below memory.
        if self.memory_swap is not None and self.memory_swap < self.memory:
            raise ValueError(
                f"memory_swap ({format_size(self.memory_swap)}) must be >= memory "
                f"({format_size(self.memory)}): it counts memory plus swap"
            )
        return self

    @property
    def swap_limit(self) -> int:
        """memory + swap in bytes, as Docker's ``memory_swap`` wants it (no swap by default)."""
        return self.memory if self.memory_swap is None else self.memory_swap


def _no_policy(value: Any) -> Any:
    # YAML 1.1 reads an unquoted ``no`` as false.
    return "no" if value is False else value


RestartPolicyName = Annotated[
    Literal["no", "on-failure", "always", "unless-stopped"], BeforeValidator(_no_policy)
]


class RestartPolicy(FrozenModel):
    """The engine's restart policy for the container (Docker's ``--restart``)."""

    policy: RestartPolicyName = "no"
    max_retries: Annotated[StrictInt, Field(ge=0)] = 0

    @model_validator(mode="after")
    def _retries_need_on_failure(self) -> RestartPolicy:
        if self.max_retries > 0 and self.policy != "on-failure":
            raise ValueError(
                f'max_retries only applies to policy "on-failure" (policy is "{self.policy}")'
            )
        return self


def restart_form(value: Any) -> Any:
    """``restart: always`` (or ``restart: no``) is short for ``restart: {policy: ...}``."""
    if isinstance(value, str) or value is False:
        return {"policy": value}
    return value


