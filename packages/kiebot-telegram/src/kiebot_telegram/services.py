"""What the handlers work with: the store, the pipeline and the operator's bot settings."""

from collections.abc import Callable

import attrs

from kiebot_core.domain.catalog import ModelSpec, Registry
from kiebot_core.domain.ids import UserId
from kiebot_core.domain.ledger import Balance
from kiebot_core.domain.payments import PaymentSettings
from kiebot_core.domain.pricing import PriceSettings
from kiebot_core.domain.promotions import FreeAllowance
from kiebot_core.ports.limits import RateLimiter
from kiebot_core.ports.runtime import Clock, IdFactory
from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_core.use_cases.generation import Pipeline, free_runs_left
from kiebot_core.use_cases.payments import Payments
from kiebot_telegram.progress import StatusBoard


@attrs.frozen(kw_only=True)
class BotServices:
    """The ports and settings the Telegram handlers need; passed as dispatcher data.

    Handlers receive it by declaring a ``services: BotServices`` parameter.
    """

    pipeline: Pipeline
    board: StatusBoard | None = None
    """Keeps status messages in step (the runtime refreshes it)."""
    welcome_stars: int = 0
    """Stars granted once to every new user (``KIEBOT_WELCOME_STARS``)."""
    payment_settings: PaymentSettings = attrs.Factory(PaymentSettings)
    """The packages on offer and the current terms version."""
    admin_ids: frozenset[int] = frozenset()
    """Who receives support requests (``ADMIN_IDS``)."""
    limiter: RateLimiter | None = None
    """Counts each user's updates, shared by every instance (None: updates are not limited)."""
    updates_per_minute: int = 60
    """Updates of one user handled per minute (``KIEBOT_USER_UPDATES_PER_MINUTE``)."""
    broadcast_per_second: float = 25.0
    """Broadcast messages sent a second at most (``KIEBOT_BROADCAST_PER_SECOND``)."""
    catalog_changed: Callable[[], None] | None = None
    """Called after an admin switched a model here: this instance reads the registry again at
    once (the store tells the other instances)."""

    @property
    def store(self) -> UnitOfWorkFactory:
        """Units of work over the bot's database."""
        return self.pipeline.uow

    @property
    def clock(self) -> Clock:
        """The clock."""
        return self.pipeline.clock

    @property
    def ids(self) -> IdFactory:
        """New ids (correlation ids, wizard tokens)."""
        return self.pipeline.ids

    @property
    def payments(self) -> Payments:
        """The payment use cases' ports and settings."""
        return Payments(
            uow=self.store, clock=self.clock, ids=self.ids, settings=self.payment_settings
        )

    @property
    def prices(self) -> PriceSettings:
        """The operator's credits → Stars conversion."""
        return self.pipeline.settings.prices

    async def registry(self) -> Registry:
        """The registry with the admins' runtime switches applied."""
        return await self.pipeline.registry()

    async def free_runs(
        self, user_id: UserId, model: ModelSpec, stars: int | None = None
    ) -> FreeAllowance | None:
        """The user's free runs left today for ``model`` (None: never free).

        With ``stars``, also None when a run at that price would not be free.
        """
        return await free_runs_left(self.pipeline, user_id, model, stars)

    async def balance(self, user_id: UserId) -> Balance:
        """The user's current balance."""
        async with self.store() as uow:
            return await uow.ledger.balance(user_id)
