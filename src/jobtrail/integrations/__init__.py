"""Adapters that report a job framework's jobs to jobtrail through its own hooks.

Each framework has its own module (`jobtrail.integrations.celery`, ...), imported on demand: this
package imports no framework, so `import jobtrail` works without any of them installed.
"""

from __future__ import annotations

__all__: list[str] = []
