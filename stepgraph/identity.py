"""Who is calling: an identity some mechanism has verified (a bearer token, a Cognito JWT), never a claimed name."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["VerifiedIdentity", "VERIFICATION_METHODS"]

#: How an identity can have been verified:
#: ``token`` - a bearer token of ``STEPGRAPH_API_TOKENS`` (``stepgraph serve``);
#: ``cognito`` - a Cognito user pool JWT checked by the API Gateway authorizer (deployed API);
#: ``local-run`` - the person running ``stepgraph run --approve|--reject`` on their own machine,
#: where the emulated approval exists only inside their process.
VERIFICATION_METHODS = ("token", "cognito", "local-run")


@dataclass(frozen=True)
class VerifiedIdentity:
    """An identity established by an authentication mechanism.

    Attributes
    ----------
    subject:
        The name approvers are listed by (an e-mail address such as ``finance@example.com``).
    method:
        How it was verified, one of :data:`VERIFICATION_METHODS`; recorded with every decision.

    Raises
    ------
    ValueError
        For an empty subject or an unknown method.
    """

    subject: str
    method: str

    def __post_init__(self) -> None:
        if not isinstance(self.subject, str) or not self.subject.strip():
            raise ValueError("a verified identity needs a non-empty subject")
        if self.method not in VERIFICATION_METHODS:
            raise ValueError(f"unknown verification method {self.method!r} (known: {', '.join(VERIFICATION_METHODS)})")
