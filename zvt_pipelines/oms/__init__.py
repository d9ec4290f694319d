"""The order management system: orders and their state machine, the manager, persistence,
restart reconciliation, emulated conditional orders (plus routing and execution algorithms).

Entry points: `oms.order.Order` (mutated only by `apply`), `oms.manager.OrderManager`,
`oms.events.EventBus` / `OrderUpdate`, `oms.persistence.OrderRecorder`,
`oms.reconcile.reconcile`, `oms.emulated.OrderEmulator`, `oms.validation.PortfolioState`.
"""
