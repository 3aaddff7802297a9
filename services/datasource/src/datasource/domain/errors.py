"""Exceptions of the datasource service.

::

    DatasourceError                 base of everything this service raises on purpose
    ├── CommandRefused              a portal command that cannot be carried out (-> CommandRejected)
    │   ├── UnknownCompanyDomain    create into a company domain that does not exist
    │   ├── CompanyDomainExists     create of a new company domain with an id already in use
    │   ├── UnknownDataSource       recreate / re-import of a data source that does not exist
    │   ├── DataSourceExists        create with a data source id already in use
    │   ├── NotConnected            recreate / re-import of a data source never connected
    │   ├── InvalidState            the data source's state does not allow the command now
    │   └── InvalidCommand          a parseable command whose fields contradict each other
    └── Ignored                     an event that does not apply (stale, duplicate, unknown subject);
        ├── UnknownSubject          logged and skipped, the message still counts as handled
        ├── StaleAuthorization
        └── NotCurrentGrant

``CommandRefused.code`` is the ``reason_code`` of the ``CommandRejected`` event and
``reason`` its plain-words explanation. ``Ignored.code`` names why in the log.
"""

from __future__ import annotations


class DatasourceError(Exception):
    """Base of the datasource service's exceptions."""


class CommandRefused(DatasourceError):
    code = "invalid_command"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownCompanyDomain(CommandRefused):
    code = "unknown_company_domain"


class CompanyDomainExists(CommandRefused):
    code = "invalid_command"


class UnknownDataSource(CommandRefused):
    code = "unknown_datasource"


class DataSourceExists(CommandRefused):
    code = "datasource_exists"


class NotConnected(CommandRefused):
    code = "not_connected"


class InvalidState(CommandRefused):
    code = "invalid_state"


class InvalidCommand(CommandRefused):
    code = "invalid_command"


class Ignored(DatasourceError):
    code = "ignored"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class UnknownSubject(Ignored):
    code = "unknown_subject"


class StaleAuthorization(Ignored):
    code = "stale_authorization"


class NotCurrentGrant(Ignored):
    code = "not_current_grant"
