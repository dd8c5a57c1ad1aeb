"""The pycore error tree: one root, typed leaves, each with an exit code and a one-line message.

`pycore.cli.main` is the only place these become stderr text and exit codes.
"""

from __future__ import annotations


class PycoreError(Exception):
    """Root of every error pycore raises on purpose. `str(err)` is one line for the user."""

    exit_code: int = 125

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(PycoreError):
    """The user's input (an option, an argument, a file they named) is not valid."""


class InvalidReference(UsageError):
    """An image reference that does not follow the reference grammar."""


class InvalidDigest(UsageError):
    """A digest string that is not `algorithm:hex` of a supported algorithm."""


class NotFound(PycoreError):
    """Something named by the user does not exist (image, layer, container, volume)."""


class ImageNotFound(NotFound):
    """No local image matches the reference or id."""


class Conflict(PycoreError):
    """The operation conflicts with the current state (e.g. an image still in use)."""


class LayerError(PycoreError):
    """A layer is corrupt, truncated or malicious, or could not be written."""


class DigestMismatch(LayerError):
    """Content did not match the digest, diff_id or size it was announced with."""


class ArchiveError(PycoreError):
    """An image archive (docker-archive, OCI layout, oci-archive) is malformed."""


class StoreError(PycoreError):
    """The store under the root is unusable (permissions, corruption, wrong version)."""


class BootstrapError(PycoreError):
    """A base image could not be made (missing host tool, failed debootstrap)."""


class RegistryError(PycoreError):
    """Talking to a registry failed. The message names the registry and the reason; the exit
    code is 1, as `docker pull`/`docker push` exit."""

    exit_code = 1


class RegistryUnreachable(RegistryError):
    """The registry could not be reached: refused, reset, DNS, TLS handshake or timeout."""


class RegistryTimeout(RegistryUnreachable):
    """The registry accepted the connection but stopped answering within the timeout."""


class RegistryUnauthorized(RegistryError):
    """The registry refused our credentials, or wants credentials we do not have."""


class RegistryNotFound(RegistryError):
    """The repository, manifest or blob does not exist (`NAME_UNKNOWN`, `MANIFEST_UNKNOWN`), or
    an index has no manifest for the requested platform."""


class UnsupportedMediaType(RegistryError):
    """The registry served a document pycore cannot use (schema1, an artifact, an odd layer)."""


class RegistryDigestMismatch(RegistryError):
    """What the registry sent does not hash to the digest it was asked for or announced."""


class RateLimited(RegistryError):
    """The registry answered 429 Too Many Requests."""


class InvalidManifest(RegistryError):
    """The registry served a manifest or index that is not valid JSON of the expected shape."""


class PushSourceNotFound(ImageNotFound):
    """`push` of a name that no local image has; exits 1, as `docker push` does."""

    exit_code = 1


class ContainerError(PycoreError):
    """A container could not be started or operated on. `exit_code` is Docker's: 127 when the
    command was not found, 126 when it cannot be executed, else 125."""

    def __init__(self, message: str, exit_code: int = 125) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class ContainerNotFound(NotFound):
    """No container has this id, id prefix or name."""


class ContainerNotRunning(Conflict):
    """`exec`, `pause`, `top`... of a container that is not running; exits 1, as Docker's
    "container ... is not running" does."""

    exit_code = 1


class NetworkError(PycoreError):
    """Container networking could not be set up or torn down (an `ip`/`nft` step failed)."""


class NetworkNotFound(NotFound):
    """No network has this name or id."""
