# ruff: noqa: RUF001  # the Russian catalog is Cyrillic on purpose
"""The bot's own message catalogs (Russian and English): every string a Telegram user sees.

Texts are HTML (Telegram's ``parse_mode=HTML``); placeholders are ``str.format`` fields and
every value put into one must already be escaped (:func:`kiebot_telegram.formatting.escape`).
Reason-code texts are not here: they are data in the core (``kiebot_core.domain.reasons``).
"""

import enum
import string
from collections.abc import Mapping

from kiebot_core.domain.texts import Language


class Msg(enum.StrEnum):
    """The key of one UI text."""

    # commands (setMyCommands descriptions)
    CMD_START = "cmd_start"
    CMD_HELP = "cmd_help"
    CMD_BALANCE = "cmd_balance"
    CMD_HISTORY = "cmd_history"
    CMD_SETTINGS = "cmd_settings"
    CMD_CANCEL = "cmd_cancel"
    CMD_TERMS = "cmd_terms"
    CMD_PAYSUPPORT = "cmd_paysupport"
    # the main menu
    WELCOME = "welcome"
    WELCOME_GRANT = "welcome_grant"
    MENU = "menu"
    MENU_BALANCE = "menu_balance"
    BTN_POPULAR = "btn_popular"
    BTN_SEARCH = "btn_search"
    BTN_HISTORY = "btn_history"
    BTN_BALANCE = "btn_balance"
    BTN_SETTINGS = "btn_settings"
    BTN_HELP = "btn_help"
    BTN_MENU = "btn_menu"
    BTN_BACK = "btn_back"
    BTN_CANCEL = "btn_cancel"
    BTN_PREV = "btn_prev"
    BTN_NEXT = "btn_next"
    PAGE = "page"
    # catalog
    SECTION = "section"
    FLOW_ITEM = "flow_item"
    LIST_FLOW = "list_flow"
    LIST_POPULAR = "list_popular"
    LIST_SEARCH = "list_search"
    LIST_EMPTY = "list_empty"
    MODEL_ITEM = "model_item"
    SEARCH_PROMPT = "search_prompt"
    SEARCH_NOTHING = "search_nothing"
    CARD = "card"
    CARD_PRICE = "card_price"
    CARD_NO_PRICE = "card_no_price"
    BTN_START_MODEL = "btn_start_model"
    # the wizard
    STEP_HEADER = "step_header"
    STEP_EXAMPLE = "step_example"
    STEP_CURRENT = "step_current"
    STEP_DEFAULT = "step_default"
    STEP_OPTIONAL = "step_optional"
    STEP_SEND_TEXT = "step_send_text"
    STEP_SEND_NUMBER = "step_send_number"
    RANGE_BOTH = "range_both"
    RANGE_MIN = "range_min"
    RANGE_MAX = "range_max"
    STEP_CHOOSE = "step_choose"
    STEP_SEND_IMAGE = "step_send_image"
    STEP_SEND_VIDEO = "step_send_video"
    STEP_SEND_AUDIO = "step_send_audio"
    STEP_SEND_ITEMS = "step_send_items"
    STEP_MAX_ITEMS = "step_max_items"
    STEP_ADDED = "step_added"
    STEP_PROBLEM = "step_problem"
    BTN_SKIP = "btn_skip"
    BTN_DEFAULT = "btn_default"
    BTN_SKIP_ALL = "btn_skip_all"
    BTN_DONE = "btn_done"
    YES = "yes"
    NO = "no"
    VALUE_FILES = "value_files"
    VALUE_ITEMS = "value_items"
    VALUE_NONE = "value_none"
    # confirmation
    CONFIRM_HEADER = "confirm_header"
    CONFIRM_PRICE = "confirm_price"
    CONFIRM_PRICE_UP_TO = "confirm_price_up_to"
    CONFIRM_BALANCE = "confirm_balance"
    CONFIRM_SHORT = "confirm_short"
    CONFIRM_NO_PRICE = "confirm_no_price"
    CONFIRM_CHEAPER = "confirm_cheaper"
    BTN_CHEAPER = "btn_cheaper"
    BTN_CONFIRM = "btn_confirm"
    BTN_EDIT = "btn_edit"
    BTN_ADVANCED = "btn_advanced"
    BTN_TO_SUMMARY = "btn_to_summary"
    EDIT_TITLE = "edit_title"
    ADVANCED_TITLE = "advanced_title"
    ADVANCED_NONE = "advanced_none"
    # a run
    ACCEPTED = "accepted"
    ACCEPTED_FREE = "accepted_free"
    TOAST_ACCEPTED = "toast_accepted"
    STATUS_PENDING = "status_pending"
    STATUS_SUBMITTED = "status_submitted"
    STATUS_RUNNING = "status_running"
    STATUS_DELIVERING = "status_delivering"
    STATUS_SUCCEEDED = "status_succeeded"
    STATUS_FAILED = "status_failed"
    STATUS_CANCELLED = "status_cancelled"
    BTN_CANCEL_RUN = "btn_cancel_run"
    TOAST_CANCELLING = "toast_cancelling"
    FAILURE = "failure"
    RELEASED = "released"
    REFUNDED_BY_OPERATOR = "refunded_by_operator"
    RESULT_CAPTION = "result_caption"
    RESULT_TOO_LARGE = "result_too_large"
    BTN_REPEAT = "btn_repeat"
    BTN_EDIT_RERUN = "btn_edit_rerun"
    BTN_FAVORITE = "btn_favorite"
    BTN_TRY_AGAIN = "btn_try_again"
    TOAST_FAVORITE_SAVED = "toast_favorite_saved"
    TOAST_FAVORITE_EXISTS = "toast_favorite_exists"
    # favorites
    BTN_FAVORITES = "btn_favorites"
    FAVORITES_TITLE = "favorites_title"
    FAVORITES_EMPTY = "favorites_empty"
    FAVORITES_ITEM = "favorites_item"
    FAVORITE_UNAVAILABLE = "favorite_unavailable"
    BTN_FAVORITE_RUN = "btn_favorite_run"
    BTN_FAVORITE_DELETE = "btn_favorite_delete"
    TOAST_FAVORITE_REMOVED = "toast_favorite_removed"
    # history, balance, settings, help
    HISTORY_TITLE = "history_title"
    HISTORY_EMPTY = "history_empty"
    HISTORY_ITEM = "history_item"
    BTN_RESEND = "btn_resend"
    BTN_REPEAT_N = "btn_repeat_n"
    TOAST_NOT_AVAILABLE = "toast_not_available"
    BALANCE = "balance"
    BALANCE_DEBT = "balance_debt"
    BALANCE_MOVES = "balance_moves"
    MOVE = "move"
    KIND_PURCHASE = "kind_purchase"
    KIND_GRANT = "kind_grant"
    KIND_HOLD = "kind_hold"
    KIND_CAPTURE = "kind_capture"
    KIND_RELEASE = "kind_release"
    KIND_REFUND = "kind_refund"
    KIND_PURCHASE_REFUND = "kind_purchase_refund"
    # payments
    BTN_TOPUP = "btn_topup"
    BTN_TOPUP_PACKAGE = "btn_topup_package"
    TOPUP_TITLE = "topup_title"
    BTN_PACKAGE = "btn_package"
    BTN_PACKAGE_BONUS = "btn_package_bonus"
    TERMS = "terms"
    TERMS_FIRST = "terms_first"
    TERMS_ACCEPTED = "terms_accepted"
    BTN_ACCEPT_TERMS = "btn_accept_terms"
    TOAST_TERMS_ACCEPTED = "toast_terms_accepted"
    INVOICE_TITLE = "invoice_title"
    INVOICE_DESCRIPTION = "invoice_description"
    INVOICE_DESCRIPTION_BONUS = "invoice_description_bonus"
    TOAST_INVOICE = "toast_invoice"
    PAID = "paid"
    PAID_ALREADY = "paid_already"
    REFUND_DONE = "refund_done"
    REFUND_FORCED = "refund_forced"
    REFUND_FAILED = "refund_failed"
    PAYSUPPORT = "paysupport"
    PAYSUPPORT_EMPTY = "paysupport_empty"
    PURCHASE_ITEM = "purchase_item"
    PURCHASE_REFUNDED = "purchase_refunded"
    BTN_REFUND = "btn_refund"
    REFUND_CONFIRM = "refund_confirm"
    BTN_REFUND_YES = "btn_refund_yes"
    SETTINGS = "settings"
    LANGUAGE_NAME = "language_name"
    BTN_LANG_RU = "btn_lang_ru"
    BTN_LANG_EN = "btn_lang_en"
    TOAST_LANGUAGE = "toast_language"
    HELP = "help"
    CANCELLED = "cancelled"
    NOTHING_TO_CANCEL = "nothing_to_cancel"
    HINT_MENU = "hint_menu"
    HINT_EXPECTS = "hint_expects"
    WHAT_TEXT = "what_text"
    WHAT_NUMBER = "what_number"
    WHAT_CHOICE = "what_choice"
    WHAT_IMAGE = "what_image"
    WHAT_VIDEO = "what_video"
    WHAT_AUDIO = "what_audio"
    WHAT_ITEMS = "what_items"
    ERROR_CODE = "error_code"
    RATE_LIMITED = "rate_limited"
    # free tier, promo codes, referrals, support
    CMD_PROMO = "cmd_promo"
    CMD_REFERRAL = "cmd_referral"
    BTN_PROMO = "btn_promo"
    BTN_REFERRAL = "btn_referral"
    PROMO_ASK = "promo_ask"
    PROMO_REDEEMED = "promo_redeemed"
    REFERRAL = "referral"
    REFERRAL_REWARD = "referral_reward"
    BTN_SUPPORT = "btn_support"
    TICKET_SENT = "ticket_sent"
    TICKET_UNAVAILABLE = "ticket_unavailable"
    TICKET_FOR_ADMINS = "ticket_for_admins"
    FREE_LEFT = "free_left"
    FREE_USED_UP = "free_used_up"
    CONFIRM_FREE = "confirm_free"
    BTN_CONFIRM_FREE = "btn_confirm_free"
    RESULT_CAPTION_FREE = "result_caption_free"
    RESULT_CAPTION_HELD = "result_caption_held"
    FREE_RETURNED = "free_returned"
    BALANCE_FREE = "balance_free"
    PAID_RETURN = "paid_return"
    # /admin (ADMIN_IDS only)
    ADMIN_HOME = "admin_home"
    BTN_ADMIN_STATS = "btn_admin_stats"
    BTN_ADMIN_USERS = "btn_admin_users"
    BTN_ADMIN_MODELS = "btn_admin_models"
    BTN_ADMIN_AUDIT = "btn_admin_audit"
    BTN_ADMIN_HOME = "btn_admin_home"
    BTN_PERIOD_TODAY = "btn_period_today"
    BTN_PERIOD_DAYS = "btn_period_days"
    STATS_TITLE = "stats_title"
    STATS_PERIOD_TODAY = "stats_period_today"
    STATS_PERIOD_DAYS = "stats_period_days"
    STATS_USERS = "stats_users"
    STATS_FUNNEL = "stats_funnel"
    STATS_RUNS = "stats_runs"
    STATS_MONEY = "stats_money"
    STATS_KIE = "stats_kie"
    STATS_MODELS = "stats_models"
    STATS_MODEL = "stats_model"
    STATS_MORE = "stats_more"
    STATS_NO_RUNS = "stats_no_runs"
    DURATION_S = "duration_s"
    DURATION_M = "duration_m"
    ADMIN_LOOKUP = "admin_lookup"
    ADMIN_LOOKUP_MALFORMED = "admin_lookup_malformed"
    ADMIN_NOT_FOUND = "admin_not_found"
    ADMIN_USER = "admin_user"
    ADMIN_USER_SEEN = "admin_user_seen"
    ADMIN_USER_NEVER = "admin_user_never"
    ADMIN_USER_BANNED = "admin_user_banned"
    ADMIN_USER_IS_ADMIN = "admin_user_is_admin"
    ADMIN_USER_BALANCE = "admin_user_balance"
    ADMIN_USER_RUNS = "admin_user_runs"
    ADMIN_USER_RUN = "admin_user_run"
    BTN_ADMIN_GRANT = "btn_admin_grant"
    BTN_ADMIN_BAN = "btn_admin_ban"
    BTN_ADMIN_UNBAN = "btn_admin_unban"
    BTN_ADMIN_OTHER_USER = "btn_admin_other_user"
    ADMIN_GRANT_AMOUNT = "admin_grant_amount"
    ADMIN_GRANT_BAD_AMOUNT = "admin_grant_bad_amount"
    ADMIN_GRANT_REASON = "admin_grant_reason"
    ADMIN_BAN_REASON = "admin_ban_reason"
    ADMIN_UNBAN_REASON = "admin_unban_reason"
    ADMIN_REASON_BAD = "admin_reason_bad"
    ADMIN_SEND_TEXT = "admin_send_text"
    ADMIN_GRANTED = "admin_granted"
    ADMIN_GRANTED_ALREADY = "admin_granted_already"
    ADMIN_BANNED = "admin_banned"
    ADMIN_UNBANNED = "admin_unbanned"
    ADMIN_BAN_UNCHANGED = "admin_ban_unchanged"
    ADMIN_CANNOT_BAN_ADMIN = "admin_cannot_ban_admin"
    ADMIN_MODELS = "admin_models"
    BTN_MODEL_ON = "btn_model_on"
    BTN_MODEL_OFF = "btn_model_off"
    BTN_MODEL_BROKEN = "btn_model_broken"
    TOAST_MODEL_ON = "toast_model_on"
    TOAST_MODEL_OFF = "toast_model_off"
    ADMIN_AUDIT = "admin_audit"
    ADMIN_AUDIT_EMPTY = "admin_audit_empty"
    ADMIN_AUDIT_ITEM = "admin_audit_item"
    ADMIN_ACTOR = "admin_actor"
    AUDIT_GRANT = "audit_grant"
    AUDIT_GENERATION_REFUND = "audit_generation_refund"
    AUDIT_PAYMENT_REFUND = "audit_payment_refund"
    AUDIT_PROMO_CREATE = "audit_promo_create"
    AUDIT_BAN = "audit_ban"
    AUDIT_UNBAN = "audit_unban"
    AUDIT_MODEL_DISABLE = "audit_model_disable"
    AUDIT_MODEL_ENABLE = "audit_model_enable"
    AUDIT_BROADCAST = "audit_broadcast"
    AUDIT_PRICE_OVERRIDE = "audit_price_override"
    # /debug (admins)
    DEBUG_USAGE = "debug_usage"
    DEBUG_NOTHING = "debug_nothing"
    DEBUG_TITLE = "debug_title"
    DEBUG_GENERATION = "debug_generation"
    DEBUG_IDS = "debug_ids"
    DEBUG_DIAGNOSIS = "debug_diagnosis"
    DEBUG_REASON = "debug_reason"
    DEBUG_ALERT = "debug_alert"
    DEBUG_LEDGER = "debug_ledger"
    DEBUG_COUNTS = "debug_counts"
    DEBUG_RECENT = "debug_recent"
    DEBUG_ALSO = "debug_also"
    DEBUG_MORE = "debug_more"
    # broadcasts, for admins
    BC_ASK_TEXT = "bc_ask_text"
    BC_TEXT_ONLY = "bc_text_only"
    BC_ASK_BUTTON = "bc_ask_button"
    BC_BAD_BUTTON = "bc_bad_button"
    BTN_BC_NO_BUTTON = "btn_bc_no_button"
    BC_AUDIENCE = "bc_audience"
    BC_ANY_LANGUAGE = "bc_any_language"
    BC_LANGUAGE_RU = "bc_language_ru"
    BC_LANGUAGE_EN = "bc_language_en"
    BC_ACTIVE_ANY = "bc_active_any"
    BC_ACTIVE_DAYS = "bc_active_days"
    BC_PAID_ANY = "bc_paid_any"
    BC_PAID_YES = "bc_paid_yes"
    BC_PAID_NO = "bc_paid_no"
    BTN_BC_LANG_ALL = "btn_bc_lang_all"
    BTN_BC_ACTIVE_ANY = "btn_bc_active_any"
    BTN_BC_ACTIVE_DAYS = "btn_bc_active_days"
    BTN_BC_PAID_ANY = "btn_bc_paid_any"
    BTN_BC_PAID_YES = "btn_bc_paid_yes"
    BTN_BC_PAID_NO = "btn_bc_paid_no"
    BTN_BC_CHOSEN = "btn_bc_chosen"
    BTN_BC_PREVIEW = "btn_bc_preview"
    BC_PREVIEW = "bc_preview"
    BC_NOBODY = "bc_nobody"
    BTN_BC_SEND = "btn_bc_send"
    BTN_BC_EDIT = "btn_bc_edit"
    BC_CANCELLED = "bc_cancelled"
    BC_EXPIRED = "bc_expired"
    BC_PROGRESS = "bc_progress"
    BTN_BC_STOP = "btn_bc_stop"
    TOAST_BC_STOPPING = "toast_bc_stopping"
    BC_DONE = "bc_done"
    BC_STOPPED = "bc_stopped"
    BC_UNCONFIRMED = "bc_unconfirmed"
    BTN_ADMIN_BROADCAST = "btn_admin_broadcast"
    # alerts to admins
    ALERT_CIRCUIT_OPENED = "alert_circuit_opened"
    ALERT_CIRCUIT_TRIAL = "alert_circuit_trial"
    ALERT_CREDITS_LOW = "alert_credits_low"
    ALERT_CREDITS_EXHAUSTED = "alert_credits_exhausted"
    ALERT_CREDITS_RESUMED = "alert_credits_resumed"
    ALERT_CREDITS_RECOVERED = "alert_credits_recovered"
    # /privacy: what is stored, export, delete
    CMD_PRIVACY = "cmd_privacy"
    BTN_PRIVACY = "btn_privacy"
    PRIVACY = "privacy"
    BTN_EXPORT_DATA = "btn_export_data"
    BTN_DELETE_DATA = "btn_delete_data"
    TOAST_EXPORTING = "toast_exporting"
    EXPORT_CAPTION = "export_caption"
    DELETE_CONFIRM = "delete_confirm"
    DELETE_BALANCE_LOST = "delete_balance_lost"
    BTN_DELETE_YES = "btn_delete_yes"
    DATA_DELETED = "data_deleted"
    AUDIT_CATALOG_SYNC = "audit_catalog_sync"
    AUDIT_USER_EXPORT = "audit_user_export"
    AUDIT_USER_FORGET = "audit_user_forget"


_EN: Mapping[Msg, str] = {
    Msg.CMD_TERMS: "Terms of sale",
    Msg.CMD_PAYSUPPORT: "Payments and refunds",
    Msg.BALANCE_MOVES: "<b>Recent moves</b>",
    Msg.MOVE: "{amount} ⭐ · {kind}{model} · {when}",
    Msg.KIND_PURCHASE: "top-up",
    Msg.KIND_GRANT: "gift",
    Msg.KIND_HOLD: "reserved for a generation",
    Msg.KIND_CAPTURE: "charged for a generation",
    Msg.KIND_RELEASE: "returned from a generation",
    Msg.KIND_REFUND: "refund of a generation",
    Msg.KIND_PURCHASE_REFUND: "top-up refunded",
    Msg.BTN_TOPUP: "⭐ Top up",
    Msg.BTN_TOPUP_PACKAGE: "⭐ Top up {package}",
    Msg.TOPUP_TITLE: (
        "⭐ <b>Top up with Telegram Stars</b>\n"
        "Choose a package; bigger ones come with bonus Stars."
    ),
    Msg.BTN_PACKAGE: "{stars} ⭐",
    Msg.BTN_PACKAGE_BONUS: "{stars} ⭐ + {bonus} ⭐ bonus",
    Msg.TERMS: (
        "📜 <b>Terms of sale</b> · version {version}\n"
        "1. You buy Stars for your kiebot balance with Telegram Stars; packages may include "
        "bonus Stars.\n"
        "2. A generation reserves its price and is charged only when you get the result; a "
        "failed run costs nothing.\n"
        "3. A purchase whose Stars are still unspent can be refunded within 30 days in "
        "/paysupport (its bonus goes back too).\n"
        "4. If Telegram refunds a purchase after its Stars were spent, the difference is a debt; "
        "paid generations wait until a top-up covers it.\n"
        "5. Questions about payments: /paysupport."
    ),
    Msg.TERMS_FIRST: "Before your first purchase, please read and accept the terms.",
    Msg.TERMS_ACCEPTED: "✅ You accepted these terms.",
    Msg.BTN_ACCEPT_TERMS: "✅ I accept",
    Msg.TOAST_TERMS_ACCEPTED: "Terms accepted.",
    Msg.INVOICE_TITLE: "{stars} Stars for kiebot",
    Msg.INVOICE_DESCRIPTION: "{credited} ⭐ on your kiebot balance for generations.",
    Msg.INVOICE_DESCRIPTION_BONUS: (
        "{credited} ⭐ on your kiebot balance for generations ({bonus} ⭐ of them a bonus)."
    ),
    Msg.TOAST_INVOICE: "Here is your invoice.",
    Msg.PAID: "✅ Payment received: +{credited} ⭐.\nBalance: <b>{available} ⭐</b>",
    Msg.PAID_ALREADY: "This payment was already credited. Balance: <b>{available} ⭐</b>",
    Msg.REFUND_DONE: "↩️ {stars} ⭐ were refunded to your Telegram account.",
    Msg.REFUND_FORCED: (
        "↩️ Telegram refunded your payment of {stars} ⭐; {credited} ⭐ left your kiebot balance."
    ),
    Msg.REFUND_FAILED: "Telegram could not refund it right now. Please try again later.",
    Msg.PAYSUPPORT: (
        "🧾 <b>Payments and refunds</b>\nA purchase whose Stars are still unspent can be "
        "refunded within 30 days. For anything else, write to the bot's support and give the "
        "payment's id."
    ),
    Msg.PAYSUPPORT_EMPTY: "🧾 You have no purchases yet. Top up in /balance.",
    Msg.PURCHASE_ITEM: "{n}. {stars} ⭐ → {credited} ⭐ · {when}\n<code>{charge}</code>",
    Msg.PURCHASE_REFUNDED: "refunded",
    Msg.BTN_REFUND: "↩️ Refund {n}",
    Msg.REFUND_CONFIRM: (
        "↩️ Refund {stars} ⭐ to your Telegram account?\n"
        "{credited} ⭐ will leave your kiebot balance.\n<code>{charge}</code>"
    ),
    Msg.BTN_REFUND_YES: "✅ Yes, refund {stars} ⭐",
    Msg.CMD_START: "Main menu",
    Msg.CMD_HELP: "How it works",
    Msg.CMD_BALANCE: "Your Stars balance",
    Msg.CMD_HISTORY: "Your generations",
    Msg.CMD_SETTINGS: "Language and settings",
    Msg.CMD_CANCEL: "Cancel the current setup",
    Msg.WELCOME: (
        "👋 Hi, {name}! I create images, videos and audio with the best AI models.\n"
        "Pick what you want to make: you see the exact price before every run and pay in "
        "Telegram Stars ⭐ only for results you get."
    ),
    Msg.WELCOME_GRANT: "🎁 {stars} ⭐ were added to your balance as a welcome gift.",
    Msg.MENU: "🏠 <b>Main menu</b>\nWhat would you like to create?",
    Msg.MENU_BALANCE: "Balance: {available} ⭐",
    Msg.BTN_POPULAR: "🔥 Popular",
    Msg.BTN_SEARCH: "🔍 Search",
    Msg.BTN_HISTORY: "🕘 History",
    Msg.BTN_BALANCE: "💰 Balance",
    Msg.BTN_SETTINGS: "🌐 Language",
    Msg.BTN_HELP: "❓ Help",
    Msg.BTN_MENU: "🏠 Menu",
    Msg.BTN_BACK: "⬅️ Back",
    Msg.BTN_CANCEL: "✖️ Cancel",
    Msg.BTN_PREV: "◀️",
    Msg.BTN_NEXT: "▶️",
    Msg.PAGE: "{page}/{pages}",
    Msg.SECTION: "<b>{title}</b>\nWhat exactly?",
    Msg.FLOW_ITEM: "{title} · {count}",
    Msg.LIST_FLOW: "<b>{title}</b> · page {page}/{pages}\nPick a model:",
    Msg.LIST_POPULAR: "🔥 <b>Popular models</b> · page {page}/{pages}",
    Msg.LIST_SEARCH: "🔍 <b>{query}</b> · page {page}/{pages}",
    Msg.LIST_EMPTY: "No models are available here right now.",
    Msg.MODEL_ITEM: "{title} · from {stars} ⭐",
    Msg.SEARCH_PROMPT: (
        "🔍 Type a model name or a few keywords, for example <i>video</i>, <i>upscale</i> "
        "or <i>banana</i>."
    ),
    Msg.SEARCH_NOTHING: "🔍 Nothing found for «{query}». Try other words or use the menu.",
    Msg.CARD: "<b>{title}</b>\n{pitch}\n\nWhat it does: {flows}\n{price}",
    Msg.CARD_PRICE: "Price: from {stars} ⭐",
    Msg.CARD_NO_PRICE: "Price: unknown",
    Msg.BTN_START_MODEL: "▶️ Start",
    Msg.STEP_HEADER: "<b>{model}</b>\nStep {step}/{total} · <b>{title}</b>",
    Msg.STEP_EXAMPLE: "Example: <i>{example}</i>",
    Msg.STEP_CURRENT: "Current: <code>{value}</code>",
    Msg.STEP_DEFAULT: "Default: <code>{value}</code>",
    Msg.STEP_OPTIONAL: "(optional)",
    Msg.STEP_SEND_TEXT: "✍️ Send it as a message.",
    Msg.STEP_SEND_NUMBER: "🔢 Send a number{range}.",
    Msg.RANGE_BOTH: " from {low} to {high}",
    Msg.RANGE_MIN: " of at least {low}",
    Msg.RANGE_MAX: " up to {high}",
    Msg.STEP_CHOOSE: "👇 Choose an option or type it.",
    Msg.STEP_SEND_IMAGE: "📎 Send a photo (as a photo or as a file).",
    Msg.STEP_SEND_VIDEO: "📎 Send a video.",
    Msg.STEP_SEND_AUDIO: "📎 Send an audio file or a voice message.",
    Msg.STEP_SEND_ITEMS: "✍️ Send the items one message at a time.",
    Msg.STEP_MAX_ITEMS: "You can add up to {count}; press «Done» when you have enough.",
    Msg.STEP_ADDED: "Added: {count}",
    Msg.STEP_PROBLEM: "⚠️ {reason}",
    Msg.BTN_SKIP: "⏭ Skip",
    Msg.BTN_DEFAULT: "↩️ Default: {value}",
    Msg.BTN_SKIP_ALL: "⏩ Skip optional",
    Msg.BTN_DONE: "✅ Done ({count})",
    Msg.YES: "Yes",
    Msg.NO: "No",
    Msg.VALUE_FILES: "📎 files: {count}",
    Msg.VALUE_ITEMS: "items: {count}",
    Msg.VALUE_NONE: "—",
    Msg.CONFIRM_HEADER: "<b>{model}</b>\nCheck and confirm:",
    Msg.CONFIRM_PRICE: "Price: <b>{stars} ⭐</b>",
    Msg.CONFIRM_PRICE_UP_TO: "Price: <b>up to {stars} ⭐</b> (the longest case)",
    Msg.CONFIRM_BALANCE: "Balance: {available} ⭐ → after the run: {after} ⭐",
    Msg.CONFIRM_SHORT: "⚠️ Not enough Stars: you have {available} ⭐, the run costs {stars} ⭐.",
    Msg.CONFIRM_NO_PRICE: "⚠️ {reason}",
    Msg.CONFIRM_CHEAPER: "💡 Cheaper for {flow}: {model} from {stars} ⭐",
    Msg.BTN_CHEAPER: "💡 Open {model}",
    Msg.BTN_CONFIRM: "✅ Confirm · {stars} ⭐",
    Msg.BTN_EDIT: "✏️ Edit",
    Msg.BTN_ADVANCED: "⚙️ Settings",
    Msg.BTN_TO_SUMMARY: "⬅️ Back to the summary",
    Msg.EDIT_TITLE: "✏️ <b>{model}</b>\nWhat do you want to change?",
    Msg.ADVANCED_TITLE: (
        "⚙️ <b>{model}</b>\nAdvanced settings have sensible defaults; change them only if "
        "you need to."
    ),
    Msg.ADVANCED_NONE: "This model has no other settings.",
    Msg.ACCEPTED: "✅ <b>Accepted</b> · {model} · {stars} ⭐",
    Msg.ACCEPTED_FREE: "✅ <b>Accepted</b> · {model} · 🎁 free run",
    Msg.TOAST_ACCEPTED: "⏳ Accepted",
    Msg.STATUS_PENDING: "⏳ <b>{model}</b>\nQueued…",
    Msg.STATUS_SUBMITTED: "🕐 <b>{model}</b>\nWaiting for the model…",
    Msg.STATUS_RUNNING: "🎨 <b>{model}</b>\nGenerating…",
    Msg.STATUS_DELIVERING: "📤 <b>{model}</b>\nSending the result…",
    Msg.STATUS_SUCCEEDED: "✅ <b>{model}</b>\nDone!",
    Msg.STATUS_FAILED: "❌ <b>{model}</b>\nFailed.",
    Msg.STATUS_CANCELLED: "✖️ <b>{model}</b>\nCancelled.",
    Msg.BTN_CANCEL_RUN: "✖️ Cancel",
    Msg.TOAST_CANCELLING: "✖️ Cancelling…",
    Msg.FAILURE: "❌ <b>{model}</b>\n{reason}",
    Msg.RELEASED: "Not charged: the {stars} ⭐ held are back on your balance.",
    Msg.REFUNDED_BY_OPERATOR: (
        "↩️ {stars} ⭐ for <b>{model}</b> are back on your balance.\nReason: {reason}"
    ),
    Msg.RESULT_CAPTION: "<b>{model}</b> · charged {stars} ⭐",
    Msg.RESULT_TOO_LARGE: (
        "📦 The result is too large to send in Telegram: "
        '<a href="{url}">download it here</a> (the link works for about a day).'
    ),
    Msg.BTN_REPEAT: "🔁 Repeat",
    Msg.BTN_EDIT_RERUN: "✏️ Edit & rerun",
    Msg.BTN_FAVORITE: "⭐ Favorite",
    Msg.BTN_TRY_AGAIN: "🔁 Try again",
    Msg.TOAST_FAVORITE_SAVED: "⭐ Saved to your favorites.",
    Msg.TOAST_FAVORITE_EXISTS: "⭐ Already in your favorites.",
    Msg.BTN_FAVORITES: "⭐ Favorites",
    Msg.FAVORITES_TITLE: "⭐ <b>Your favorites</b> · page {page}/{pages}",
    Msg.FAVORITES_EMPTY: (
        "⭐ No favorites yet. Press «⭐ Favorite» under a result to keep its model and "
        "settings here and run them again."
    ),
    Msg.FAVORITES_ITEM: "{n}. <b>{model}</b>",
    Msg.FAVORITE_UNAVAILABLE: "⚠️ {reason}",
    Msg.BTN_FAVORITE_RUN: "▶️ {n}",
    Msg.BTN_FAVORITE_DELETE: "🗑 {n}",
    Msg.TOAST_FAVORITE_REMOVED: "🗑 Removed from your favorites.",
    Msg.HISTORY_TITLE: "🕘 <b>Your generations</b> · page {page}/{pages}",
    Msg.HISTORY_EMPTY: "🕘 You have no generations yet. Pick a model from the menu.",
    Msg.HISTORY_ITEM: "{n}. {mark} <b>{model}</b> · {stars} ⭐ · {when}",
    Msg.BTN_RESEND: "📤 {n}",
    Msg.BTN_REPEAT_N: "🔁 {n}",
    Msg.TOAST_NOT_AVAILABLE: "This result can't be sent again.",
    Msg.BALANCE: (
        "💰 <b>Balance</b>\nAvailable: <b>{available} ⭐</b>\n"
        "Held for running generations: {held} ⭐"
    ),
    Msg.BALANCE_DEBT: "Debt after a refund: {debt} ⭐",
    Msg.SETTINGS: "🌐 <b>Settings</b>\nLanguage: {current}",
    Msg.LANGUAGE_NAME: "English",
    Msg.BTN_LANG_RU: "🇷🇺 Русский",
    Msg.BTN_LANG_EN: "🇬🇧 English",
    Msg.TOAST_LANGUAGE: "Language: English",
    Msg.HELP: (
        "❓ <b>How it works</b>\n"
        "1. Pick what you want to make in the menu, then a model.\n"
        "2. Answer a few short steps: type the prompt, send a photo or tap an option. "
        "⬅️ Back returns to the previous step, ✖️ Cancel stops the setup.\n"
        "3. Check the price and confirm. Stars are reserved and charged only when you get "
        "the result; a failed run costs nothing.\n\n"
        "/start — main menu\n/balance — your Stars\n/history — your generations\n"
        "/promo — redeem a promo code\n/referral — invite friends\n"
        "/paysupport — payments and refunds\n/settings — language\n"
        "/privacy — your data: export or delete\n"
        "/cancel — cancel the current setup"
    ),
    Msg.CANCELLED: "✖️ Cancelled. Nothing was charged.",
    Msg.NOTHING_TO_CANCEL: "Nothing to cancel.",
    Msg.HINT_MENU: "👇 Pick what you want to do in the menu, or type a model name to search.",
    Msg.HINT_EXPECTS: "⚠️ This step expects {what}.",
    Msg.WHAT_TEXT: "a text message",
    Msg.WHAT_NUMBER: "a number",
    Msg.WHAT_CHOICE: "one of the options",
    Msg.WHAT_IMAGE: "a photo",
    Msg.WHAT_VIDEO: "a video",
    Msg.WHAT_AUDIO: "an audio file",
    Msg.WHAT_ITEMS: "a text message per item",
    Msg.ERROR_CODE: "Code: <code>{code}</code>",
    Msg.RATE_LIMITED: ("⏳ Too many actions in a row. Please wait {seconds} s, then try again."),
    Msg.CMD_PROMO: "Redeem a promo code",
    Msg.CMD_REFERRAL: "Invite friends",
    Msg.BTN_PROMO: "🎟 Promo code",
    Msg.BTN_REFERRAL: "👥 Invite friends",
    Msg.PROMO_ASK: "🎟 Send me your promo code (or /cancel).",
    Msg.PROMO_REDEEMED: (
        "🎟 Promo code <b>{code}</b> redeemed: +{stars} ⭐.\nBalance: <b>{available} ⭐</b>"
    ),
    Msg.REFERRAL: (
        "👥 <b>Invite friends</b>\nShare your link:\n{link}\n\n"
        "When a friend who joined through it makes their first purchase, you get {stars} ⭐.\n"
        "Joined: {invited} · purchased: {rewarded} · you earned: {earned} ⭐"
    ),
    Msg.REFERRAL_REWARD: (
        "👥 A friend you invited made their first purchase: +{stars} ⭐ on your balance."
    ),
    Msg.BTN_SUPPORT: "✉️ Ask support about {n}",
    Msg.TICKET_SENT: (
        "✉️ Your request about purchase <code>{charge}</code> was sent to support. "
        "They will answer you in this chat."
    ),
    Msg.TICKET_UNAVAILABLE: (
        "Support can't be reached from the bot right now. Please try again later."
    ),
    Msg.TICKET_FOR_ADMINS: (
        "✉️ <b>Support request</b>\nUser: <code>{user_id}</code> {name}\n"
        "Charge: <code>{charge}</code>\nPurchase: {stars} ⭐ → {credited} ⭐, {state}, {when}\n"
        "Balance: {available} ⭐ available, {held} ⭐ held, debt {debt} ⭐"
    ),
    Msg.FREE_LEFT: "🎁 Free today: {left} of {daily} runs",
    Msg.FREE_USED_UP: "🎁 Today's {daily} free runs are used up; new ones at 00:00 UTC.",
    Msg.CONFIRM_FREE: "🎁 <b>Free run</b> · {left} of {daily} left today",
    Msg.BTN_CONFIRM_FREE: "✅ Confirm · free",
    Msg.RESULT_CAPTION_FREE: "<b>{model}</b> · 🎁 free run",
    Msg.RESULT_CAPTION_HELD: "<b>{model}</b> · held {held} ⭐, charged {stars} ⭐",
    Msg.FREE_RETURNED: "Not charged: your free run is back.",
    Msg.BALANCE_FREE: "🎁 Free runs today: {left} of {daily} ({models})",
    Msg.PAID_RETURN: "👇 Your run is waiting for confirmation:",
    Msg.ADMIN_HOME: "🛠 <b>Admin</b>\nStatistics, users, model switches and the audit trail.",
    Msg.BTN_ADMIN_STATS: "📊 Statistics",
    Msg.BTN_ADMIN_USERS: "👤 Users",
    Msg.BTN_ADMIN_MODELS: "🧩 Models",
    Msg.BTN_ADMIN_AUDIT: "📜 Audit trail",
    Msg.BTN_ADMIN_HOME: "⬅️ Admin",
    Msg.BTN_PERIOD_TODAY: "Today",
    Msg.BTN_PERIOD_DAYS: "{days} days",
    Msg.STATS_TITLE: "📊 <b>Statistics</b> · {period} (since {since} UTC)",
    Msg.STATS_PERIOD_TODAY: "today",
    Msg.STATS_PERIOD_DAYS: "{days} days",
    Msg.STATS_USERS: "👥 Users: {total} · active today {today} · in 7 days {week}",
    Msg.STATS_FUNNEL: (
        "🆕 Joined {started} → generated {generated} ({generated_share}) → "
        "paid {paid} ({paid_share})"
    ),
    Msg.STATS_RUNS: (
        "🎨 Generations: {total} · ✅ {succeeded} · ❌ {failed} · ✖️ {cancelled} · ⏳ {live}"
    ),
    Msg.STATS_MONEY: (
        "⭐ Stars in: {stars} ⭐ ({payments} payments)\n"
        "↩️ Refunds: {purchase_refunds} payments ({purchase_stars} ⭐) · "
        "{generation_refunds} generations ({generation_stars} ⭐)"
    ),
    Msg.STATS_KIE: (
        "💳 KIE credits: {consumed} consumed ({quoted} quoted)\n"
        "💰 Kept {kept} ⭐ · KIE cost {cost} ⭐ · margin {margin} ⭐"
    ),
    Msg.STATS_MODELS: "<b>By model</b> (runs · failed · p50 / p95 to delivery)",
    Msg.STATS_MODEL: "{model}: {total} · {failed} · {p50} / {p95}",
    Msg.STATS_MORE: "… and {count} more models",
    Msg.STATS_NO_RUNS: "No generations in this period.",
    Msg.DURATION_S: "{seconds} s",
    Msg.DURATION_M: "{minutes} min {seconds} s",
    Msg.ADMIN_LOOKUP: "👤 Send the user's Telegram id or @username.",
    Msg.ADMIN_LOOKUP_MALFORMED: "⚠️ That is neither a Telegram id nor an @username.",
    Msg.ADMIN_NOT_FOUND: "⚠️ No user <code>{query}</code> has talked to the bot.",
    Msg.ADMIN_USER: (
        "👤 <b>User <code>{id}</code></b>{username}\nLanguage: {lang} · joined {joined} · "
        "last seen {seen}"
    ),
    Msg.ADMIN_USER_SEEN: "{day}",
    Msg.ADMIN_USER_NEVER: "—",
    Msg.ADMIN_USER_BANNED: "⛔ <b>Banned</b>",
    Msg.ADMIN_USER_IS_ADMIN: "🛠 Admin",
    Msg.ADMIN_USER_BALANCE: "💰 {available} ⭐ available · {held} ⭐ held · debt {debt} ⭐",
    Msg.ADMIN_USER_RUNS: "<b>Latest generations</b>",
    Msg.ADMIN_USER_RUN: "{mark} {model} · {stars} ⭐ · {when} · <code>{id}</code>{reason}",
    Msg.BTN_ADMIN_GRANT: "🎁 Grant Stars",
    Msg.BTN_ADMIN_BAN: "⛔ Ban",
    Msg.BTN_ADMIN_UNBAN: "✅ Unban",
    Msg.BTN_ADMIN_OTHER_USER: "🔎 Another user",
    Msg.ADMIN_GRANT_AMOUNT: (
        "🎁 How many Stars to give user <code>{id}</code>? Send a number from 1 to {max}."
    ),
    Msg.ADMIN_GRANT_BAD_AMOUNT: "⚠️ Send a whole number from 1 to {max}.",
    Msg.ADMIN_GRANT_REASON: (
        "🎁 {stars} ⭐ for user <code>{id}</code>. Why? Send the reason "
        "(it is kept in the audit trail)."
    ),
    Msg.ADMIN_BAN_REASON: (
        "⛔ Ban user <code>{id}</code>? Send the reason (it is kept in the audit trail)."
    ),
    Msg.ADMIN_UNBAN_REASON: (
        "✅ Unban user <code>{id}</code>? Send the reason (it is kept in the audit trail)."
    ),
    Msg.ADMIN_REASON_BAD: "⚠️ Send a reason of 1 to {max} characters.",
    Msg.ADMIN_SEND_TEXT: "⚠️ Please send it as a text message.",
    Msg.ADMIN_GRANTED: "✅ Granted {stars} ⭐.",
    Msg.ADMIN_GRANTED_ALREADY: (
        "This grant (the same amount and reason) was made before; nothing changed."
    ),
    Msg.ADMIN_BANNED: "⛔ Banned. They will be told once, when they next write; then nothing.",
    Msg.ADMIN_UNBANNED: "✅ Unbanned.",
    Msg.ADMIN_BAN_UNCHANGED: "Nothing changed: it already was so.",
    Msg.ADMIN_CANNOT_BAN_ADMIN: "⚠️ An admin cannot be banned.",
    Msg.ADMIN_MODELS: (
        "🧩 <b>Models</b> · {on} on, {off} off\n"
        "✅ on · ⛔ off (tap to switch) · 🚫 cannot run\n"
        "A switch reaches every user within seconds."
    ),
    Msg.BTN_MODEL_ON: "✅ {model}",
    Msg.BTN_MODEL_OFF: "⛔ {model}",
    Msg.BTN_MODEL_BROKEN: "🚫 {model}",
    Msg.TOAST_MODEL_ON: "✅ {model} is on for everyone.",
    Msg.TOAST_MODEL_OFF: "⛔ {model} is off for everyone.",
    Msg.ADMIN_AUDIT: "📜 <b>Audit trail</b>",
    Msg.ADMIN_AUDIT_EMPTY: "No operator actions yet.",
    Msg.ADMIN_AUDIT_ITEM: (
        "<b>{when}</b> · {actor} · {action} <code>{target}</code>{detail}{reason}"
    ),
    Msg.ADMIN_ACTOR: "admin {id}",
    Msg.AUDIT_GRANT: "🎁 grant to",
    Msg.AUDIT_GENERATION_REFUND: "↩️ refund of generation",
    Msg.AUDIT_PAYMENT_REFUND: "💸 refund of payment",
    Msg.AUDIT_PROMO_CREATE: "🎟 promo code",
    Msg.AUDIT_BAN: "⛔ ban of",
    Msg.AUDIT_UNBAN: "✅ unban of",
    Msg.AUDIT_MODEL_DISABLE: "⛔ switched off",
    Msg.AUDIT_MODEL_ENABLE: "✅ switched on",
    Msg.AUDIT_BROADCAST: "📣 broadcast",
    Msg.AUDIT_PRICE_OVERRIDE: "🏷 price of",
    Msg.DEBUG_USAGE: (
        "🔎 <code>/debug ID</code>: a generation id, correlation id, KIE task id, update id or "
        "user id (<code>user:ID</code> or <code>update:ID</code> when a number could be both)."
    ),
    Msg.DEBUG_NOTHING: "🔎 Nothing is recorded for <code>{wanted}</code>.",
    Msg.DEBUG_TITLE: "🔎 <b>{subject}</b> · {kind}",
    Msg.DEBUG_GENERATION: "<code>{generation}</code> · {model} · <b>{state}</b>",
    Msg.DEBUG_IDS: (
        "user <code>{user}</code> · <code>{correlation}</code> · KIE <code>{task}</code>"
    ),
    Msg.DEBUG_DIAGNOSIS: "🩺 <b>{text}</b>",
    Msg.DEBUG_REASON: "Reason: <code>{reason}</code> · policy {remedy}{alert}\n{text}",
    Msg.DEBUG_ALERT: ", alerts the operator",
    Msg.DEBUG_LEDGER: "Ledger: {moves}",
    Msg.DEBUG_COUNTS: "KIE calls {kie} ({errors} failed) · job runs {runs} · retries {retries}",
    Msg.DEBUG_RECENT: "Latest generations:",
    Msg.DEBUG_ALSO: "Also: {others}",
    Msg.DEBUG_MORE: "… {count} more …",
    Msg.BC_ASK_TEXT: (
        "📣 <b>New broadcast</b> · step 1 of 3\nSend the message to broadcast. Its formatting "
        "(bold, italics, links) is kept; only text can be broadcast. /cancel stops."
    ),
    Msg.BC_TEXT_ONLY: "⚠️ Only a text message can be broadcast. Send the text, or /cancel.",
    Msg.BC_ASK_BUTTON: (
        "📣 <b>New broadcast</b> · step 2 of 3\nAdd a link button under the message? Send it "
        "as <code>Label | https://example.com</code>, or press «No button»."
    ),
    Msg.BC_BAD_BUTTON: (
        "⚠️ That is not a button. Send a label (up to 64 characters), a vertical bar and a "
        "link starting with https://, http:// or tg://, e.g. "
        "<code>Shop | https://example.com</code>."
    ),
    Msg.BTN_BC_NO_BUTTON: "➡️ No button",
    Msg.BC_AUDIENCE: (
        "📣 <b>New broadcast</b> · step 3 of 3: who gets it\n"
        "🌐 Language: {lang}\n🕒 Active: {active}\n💳 Purchases: {paid}\n\n"
        "👥 Recipients now: <b>{count}</b>\n"
        "<i>Banned users and users who blocked the bot are always left out.</i>"
    ),
    Msg.BC_ANY_LANGUAGE: "all",
    Msg.BC_LANGUAGE_RU: "Russian",
    Msg.BC_LANGUAGE_EN: "English",
    Msg.BC_ACTIVE_ANY: "any time",
    Msg.BC_ACTIVE_DAYS: "in the last {days} days",
    Msg.BC_PAID_ANY: "anyone",
    Msg.BC_PAID_YES: "made a purchase",
    Msg.BC_PAID_NO: "never made a purchase",
    Msg.BTN_BC_LANG_ALL: "🌐 All",
    Msg.BTN_BC_ACTIVE_ANY: "Any time",
    Msg.BTN_BC_ACTIVE_DAYS: "{days} days",
    Msg.BTN_BC_PAID_ANY: "Anyone",
    Msg.BTN_BC_PAID_YES: "Paid",
    Msg.BTN_BC_PAID_NO: "Never paid",
    Msg.BTN_BC_CHOSEN: "✅ {label}",
    Msg.BTN_BC_PREVIEW: "👁 Preview",
    Msg.BC_PREVIEW: (
        "👆 This is exactly what they will get.\n"
        "👥 <b>{count}</b> recipients · {lang} · {active} · {paid}\n"
        "⏱ Sending takes about {minutes} min (at most {rate} messages a second).\nSend it?"
    ),
    Msg.BC_NOBODY: "👥 Nobody matches this audience: change it to send.",
    Msg.BTN_BC_SEND: "✅ Send to {count}",
    Msg.BTN_BC_EDIT: "✏️ Change the audience",
    Msg.BC_CANCELLED: "📣 Broadcast cancelled: nothing was sent.",
    Msg.BC_EXPIRED: "This broadcast draft is no longer open. Start again with /broadcast.",
    Msg.BC_PROGRESS: (
        "📣 <b>Broadcast</b> <code>{id}</code> · sending\n"
        "{done} of {total} · ✅ {sent} sent · 🚫 {blocked} blocked · ⚠️ {failed} failed"
    ),
    Msg.BTN_BC_STOP: "⏹ Stop",
    Msg.TOAST_BC_STOPPING: "Stopping: nothing more is sent.",
    Msg.BC_DONE: (
        "✅ <b>Broadcast finished</b> <code>{id}</code>\n"
        "Sent: <b>{sent}</b> of {total}\n"
        "Blocked the bot: {blocked} (left out from now on)\nFailed: {failed}"
    ),
    Msg.BC_STOPPED: (
        "⏹ <b>Broadcast stopped</b> <code>{id}</code>\n"
        "Sent: <b>{sent}</b> of {total} · blocked: {blocked} · failed: {failed}\n"
        "Not sent: {pending}"
    ),
    Msg.BC_UNCONFIRMED: (
        "Unconfirmed (no answer from Telegram, or a restart mid-send; not sent again, "
        "they may have arrived): {count}"
    ),
    Msg.BTN_ADMIN_BROADCAST: "📣 Broadcast",
    Msg.ALERT_CIRCUIT_OPENED: (
        "⚡ <b>Model switched off</b>: <code>{model}</code>\n"
        "{failures} KIE failures within {window} min ({reason}). Users no longer see it.\n"
        "It is tried again in {retry} min; switching it in /admin → Models takes over.\n"
        "<i>{detail}</i>"
    ),
    Msg.ALERT_CIRCUIT_TRIAL: (
        "🔁 <code>{model}</code> is back on, on trial: a KIE failure within the next {minutes} "
        "min switches it off again, for longer."
    ),
    Msg.ALERT_CREDITS_LOW: (
        "🪫 <b>KIE credits are low</b>: {credits} (the alert level is {threshold}).\n"
        "Top up the KIE account: at zero, new generations pause."
    ),
    Msg.ALERT_CREDITS_EXHAUSTED: (
        "⛔ <b>KIE credits ran out</b> ({credits}).\nNew generations are paused: users are "
        "told, nobody is charged. They resume by themselves once the account has "
        "{threshold} credits again."
    ),
    Msg.ALERT_CREDITS_RESUMED: "▶️ KIE credits are back: {credits}. New generations run again.",
    Msg.ALERT_CREDITS_RECOVERED: (
        "✅ KIE credits are above the alert level again: {credits} (alert below {threshold})."
    ),
    Msg.CMD_PRIVACY: "Your data: export or delete",
    Msg.BTN_PRIVACY: "🔒 Your data",
    Msg.PRIVACY: (
        "🔒 <b>Your data</b>\n"
        "What kiebot keeps about you:\n"
        "• your Telegram id, @username, language, when you joined, who invited you and the "
        "terms you accepted;\n"
        "• your generations: the model, your prompts and settings, links to the results, the "
        "price;\n"
        "• your payments and every move of your Stars balance;\n"
        "• your favorites and where you are in a setup.\n"
        "Stored now: {generations} generations, {payments} payments, {moves} balance moves, "
        "{favorites} favorites.\n\n"
        "📦 <b>Export</b> sends you all of it as a JSON file.\n"
        "🗑 <b>Delete</b> erases your profile, prompts, results, favorites and chat history "
        "with the bot. Payments and balance moves are kept, as accounting law requires, under "
        "an anonymous number instead of your id."
    ),
    Msg.BTN_EXPORT_DATA: "📦 Export my data",
    Msg.BTN_DELETE_DATA: "🗑 Delete my data",
    Msg.TOAST_EXPORTING: "📦 Preparing your file…",
    Msg.EXPORT_CAPTION: (
        "📦 Everything kiebot stores about you: {generations} generations, {payments} "
        "payments, {moves} balance moves, {favorites} favorites."
    ),
    Msg.DELETE_CONFIRM: (
        "🗑 <b>Delete your data?</b>\n"
        "This cannot be undone: your profile, your prompts and results, favorites and history "
        "go for good. Payments and balance moves stay, under an anonymous number.\n"
        "{balance}"
        "If you come back, you start as a new user, without a second welcome gift; promo "
        "codes you used stay used."
    ),
    Msg.DELETE_BALANCE_LOST: "⚠️ Your balance of <b>{available} ⭐</b> will be lost.\n",
    Msg.BTN_DELETE_YES: "🗑 Yes, delete my data",
    Msg.DATA_DELETED: (
        "✅ Your data was deleted. Payments and balance moves are kept under an anonymous "
        "number only.\nSend /start whenever you want to begin again."
    ),
    Msg.AUDIT_CATALOG_SYNC: "📚 model catalog",
    Msg.AUDIT_USER_EXPORT: "📦 data export of",
    Msg.AUDIT_USER_FORGET: "🗑 data deleted, now",
}

_RU: Mapping[Msg, str] = {
    Msg.CMD_TERMS: "Условия покупки",
    Msg.CMD_PAYSUPPORT: "Платежи и возвраты",
    Msg.BALANCE_MOVES: "<b>Последние операции</b>",
    Msg.MOVE: "{amount} ⭐ · {kind}{model} · {when}",
    Msg.KIND_PURCHASE: "пополнение",
    Msg.KIND_GRANT: "подарок",
    Msg.KIND_HOLD: "резерв под генерацию",
    Msg.KIND_CAPTURE: "списано за генерацию",
    Msg.KIND_RELEASE: "возврат резерва генерации",
    Msg.KIND_REFUND: "возврат за генерацию",
    Msg.KIND_PURCHASE_REFUND: "возврат пополнения",
    Msg.BTN_TOPUP: "⭐ Пополнить",
    Msg.BTN_TOPUP_PACKAGE: "⭐ Пополнить на {package}",
    Msg.TOPUP_TITLE: (
        "⭐ <b>Пополнение звёздами Telegram</b>\nВыберите пакет; к большим пакетам "
        "добавляются бонусные звёзды."
    ),
    Msg.BTN_PACKAGE: "{stars} ⭐",
    Msg.BTN_PACKAGE_BONUS: "{stars} ⭐ + {bonus} ⭐ бонус",
    Msg.TERMS: (
        "📜 <b>Условия покупки</b> · версия {version}\n"
        "1. Вы покупаете звёзды на баланс kiebot за звёзды Telegram; пакеты могут включать "
        "бонусные звёзды.\n"
        "2. Генерация резервирует свою цену и списывается, только когда вы получили результат; "
        "неудачный запуск ничего не стоит.\n"
        "3. Покупку, звёзды которой ещё не потрачены, можно вернуть в течение 30 дней в "
        "/paysupport (бонус тоже списывается).\n"
        "4. Если Telegram вернёт платёж после того, как звёзды потрачены, разница становится "
        "долгом; платные генерации ждут, пока пополнение его не покроет.\n"
        "5. Вопросы о платежах: /paysupport."
    ),
    Msg.TERMS_FIRST: "Перед первой покупкой, пожалуйста, прочитайте и примите условия.",
    Msg.TERMS_ACCEPTED: "✅ Вы приняли эти условия.",
    Msg.BTN_ACCEPT_TERMS: "✅ Принимаю",
    Msg.TOAST_TERMS_ACCEPTED: "Условия приняты.",
    Msg.INVOICE_TITLE: "{stars} звёзд для kiebot",
    Msg.INVOICE_DESCRIPTION: "{credited} ⭐ на баланс kiebot для генераций.",
    Msg.INVOICE_DESCRIPTION_BONUS: (
        "{credited} ⭐ на баланс kiebot для генераций (из них {bonus} ⭐ бонус)."
    ),
    Msg.TOAST_INVOICE: "Вот ваш счёт.",
    Msg.PAID: "✅ Оплата получена: +{credited} ⭐.\nБаланс: <b>{available} ⭐</b>",
    Msg.PAID_ALREADY: "Этот платёж уже зачислен. Баланс: <b>{available} ⭐</b>",
    Msg.REFUND_DONE: "↩️ {stars} ⭐ возвращены на ваш счёт Telegram.",
    Msg.REFUND_FORCED: (
        "↩️ Telegram вернул ваш платёж на {stars} ⭐; с баланса kiebot списано {credited} ⭐."
    ),
    Msg.REFUND_FAILED: "Telegram сейчас не смог выполнить возврат. Попробуйте позже.",
    Msg.PAYSUPPORT: (
        "🧾 <b>Платежи и возвраты</b>\nПокупку, звёзды которой ещё не потрачены, можно "
        "вернуть в течение 30 дней. По остальным вопросам напишите в поддержку бота и укажите "
        "номер платежа."
    ),
    Msg.PAYSUPPORT_EMPTY: "🧾 Покупок пока нет. Пополнить баланс можно в /balance.",
    Msg.PURCHASE_ITEM: "{n}. {stars} ⭐ → {credited} ⭐ · {when}\n<code>{charge}</code>",
    Msg.PURCHASE_REFUNDED: "возвращено",
    Msg.BTN_REFUND: "↩️ Вернуть {n}",
    Msg.REFUND_CONFIRM: (
        "↩️ Вернуть {stars} ⭐ на ваш счёт Telegram?\n"
        "С баланса kiebot будет списано {credited} ⭐.\n<code>{charge}</code>"
    ),
    Msg.BTN_REFUND_YES: "✅ Да, вернуть {stars} ⭐",
    Msg.CMD_START: "Главное меню",
    Msg.CMD_HELP: "Как это работает",
    Msg.CMD_BALANCE: "Баланс звёзд",
    Msg.CMD_HISTORY: "Мои генерации",
    Msg.CMD_SETTINGS: "Язык и настройки",
    Msg.CMD_CANCEL: "Отменить текущую настройку",
    Msg.WELCOME: (
        "👋 Привет, {name}! Я создаю картинки, видео и аудио лучшими нейросетями.\n"
        "Выберите, что сделать: точную цену вы видите перед каждым запуском, а платите "
        "звёздами Telegram ⭐ только за полученный результат."
    ),
    Msg.WELCOME_GRANT: "🎁 На баланс зачислено {stars} ⭐ в подарок.",
    Msg.MENU: "🏠 <b>Главное меню</b>\nЧто хотите создать?",
    Msg.MENU_BALANCE: "Баланс: {available} ⭐",
    Msg.BTN_POPULAR: "🔥 Популярное",
    Msg.BTN_SEARCH: "🔍 Поиск",
    Msg.BTN_HISTORY: "🕘 История",
    Msg.BTN_BALANCE: "💰 Баланс",
    Msg.BTN_SETTINGS: "🌐 Язык",
    Msg.BTN_HELP: "❓ Помощь",
    Msg.BTN_MENU: "🏠 Меню",
    Msg.BTN_BACK: "⬅️ Назад",
    Msg.BTN_CANCEL: "✖️ Отмена",
    Msg.BTN_PREV: "◀️",
    Msg.BTN_NEXT: "▶️",
    Msg.PAGE: "{page}/{pages}",
    Msg.SECTION: "<b>{title}</b>\nЧто именно?",
    Msg.FLOW_ITEM: "{title} · {count}",
    Msg.LIST_FLOW: "<b>{title}</b> · стр. {page}/{pages}\nВыберите модель:",
    Msg.LIST_POPULAR: "🔥 <b>Популярные модели</b> · стр. {page}/{pages}",
    Msg.LIST_SEARCH: "🔍 <b>{query}</b> · стр. {page}/{pages}",
    Msg.LIST_EMPTY: "Сейчас здесь нет доступных моделей.",
    Msg.MODEL_ITEM: "{title} · от {stars} ⭐",
    Msg.SEARCH_PROMPT: (
        "🔍 Напишите название модели или пару слов, например <i>видео</i>, <i>upscale</i> "
        "или <i>banana</i>."
    ),
    Msg.SEARCH_NOTHING: (
        "🔍 По запросу «{query}» ничего не нашлось. Попробуйте другие слова или меню."
    ),
    Msg.CARD: "<b>{title}</b>\n{pitch}\n\nЧто умеет: {flows}\n{price}",
    Msg.CARD_PRICE: "Цена: от {stars} ⭐",
    Msg.CARD_NO_PRICE: "Цена: неизвестна",
    Msg.BTN_START_MODEL: "▶️ Начать",
    Msg.STEP_HEADER: "<b>{model}</b>\nШаг {step}/{total} · <b>{title}</b>",
    Msg.STEP_EXAMPLE: "Пример: <i>{example}</i>",
    Msg.STEP_CURRENT: "Сейчас: <code>{value}</code>",
    Msg.STEP_DEFAULT: "По умолчанию: <code>{value}</code>",
    Msg.STEP_OPTIONAL: "(необязательно)",
    Msg.STEP_SEND_TEXT: "✍️ Отправьте текстом.",
    Msg.STEP_SEND_NUMBER: "🔢 Отправьте число{range}.",
    Msg.RANGE_BOTH: " от {low} до {high}",
    Msg.RANGE_MIN: " не меньше {low}",
    Msg.RANGE_MAX: " не больше {high}",
    Msg.STEP_CHOOSE: "👇 Выберите вариант или напишите его.",
    Msg.STEP_SEND_IMAGE: "📎 Отправьте фото (как фото или файлом).",
    Msg.STEP_SEND_VIDEO: "📎 Отправьте видео.",
    Msg.STEP_SEND_AUDIO: "📎 Отправьте аудиофайл или голосовое сообщение.",
    Msg.STEP_SEND_ITEMS: "✍️ Отправляйте элементы по одному сообщению.",
    Msg.STEP_MAX_ITEMS: "Можно добавить до {count}; когда хватит, нажмите «Готово».",
    Msg.STEP_ADDED: "Добавлено: {count}",
    Msg.STEP_PROBLEM: "⚠️ {reason}",
    Msg.BTN_SKIP: "⏭ Пропустить",
    Msg.BTN_DEFAULT: "↩️ По умолчанию: {value}",
    Msg.BTN_SKIP_ALL: "⏩ Пропустить необязательные",
    Msg.BTN_DONE: "✅ Готово ({count})",
    Msg.YES: "Да",
    Msg.NO: "Нет",
    Msg.VALUE_FILES: "📎 файлов: {count}",
    Msg.VALUE_ITEMS: "элементов: {count}",
    Msg.VALUE_NONE: "—",
    Msg.CONFIRM_HEADER: "<b>{model}</b>\nПроверьте и подтвердите:",
    Msg.CONFIRM_PRICE: "Цена: <b>{stars} ⭐</b>",
    Msg.CONFIRM_PRICE_UP_TO: "Цена: <b>до {stars} ⭐</b> (по самому долгому варианту)",
    Msg.CONFIRM_BALANCE: "Баланс: {available} ⭐ → после запуска: {after} ⭐",
    Msg.CONFIRM_SHORT: "⚠️ Не хватает звёзд: у вас {available} ⭐, запуск стоит {stars} ⭐.",
    Msg.CONFIRM_NO_PRICE: "⚠️ {reason}",
    Msg.CONFIRM_CHEAPER: "💡 Дешевле для «{flow}»: {model} — от {stars} ⭐",
    Msg.BTN_CHEAPER: "💡 Открыть {model}",
    Msg.BTN_CONFIRM: "✅ Подтвердить · {stars} ⭐",
    Msg.BTN_EDIT: "✏️ Изменить",
    Msg.BTN_ADVANCED: "⚙️ Настройки",
    Msg.BTN_TO_SUMMARY: "⬅️ К сводке",
    Msg.EDIT_TITLE: "✏️ <b>{model}</b>\nЧто изменить?",
    Msg.ADVANCED_TITLE: (
        "⚙️ <b>{model}</b>\nУ дополнительных настроек разумные значения по умолчанию; "
        "меняйте их, только если нужно."
    ),
    Msg.ADVANCED_NONE: "У этой модели нет других настроек.",
    Msg.ACCEPTED: "✅ <b>Принято</b> · {model} · {stars} ⭐",
    Msg.ACCEPTED_FREE: "✅ <b>Принято</b> · {model} · 🎁 бесплатный запуск",
    Msg.TOAST_ACCEPTED: "⏳ Принято",
    Msg.STATUS_PENDING: "⏳ <b>{model}</b>\nВ очереди…",
    Msg.STATUS_SUBMITTED: "🕐 <b>{model}</b>\nЖдём модель…",
    Msg.STATUS_RUNNING: "🎨 <b>{model}</b>\nГенерирую…",
    Msg.STATUS_DELIVERING: "📤 <b>{model}</b>\nОтправляю результат…",
    Msg.STATUS_SUCCEEDED: "✅ <b>{model}</b>\nГотово!",
    Msg.STATUS_FAILED: "❌ <b>{model}</b>\nНе получилось.",
    Msg.STATUS_CANCELLED: "✖️ <b>{model}</b>\nОтменено.",
    Msg.BTN_CANCEL_RUN: "✖️ Отменить",
    Msg.TOAST_CANCELLING: "✖️ Отменяю…",
    Msg.FAILURE: "❌ <b>{model}</b>\n{reason}",
    Msg.RELEASED: "Не списано: {stars} ⭐ из резерва вернулись на баланс.",
    Msg.REFUNDED_BY_OPERATOR: (
        "↩️ {stars} ⭐ за <b>{model}</b> вернулись на баланс.\nПричина: {reason}"
    ),
    Msg.RESULT_CAPTION: "<b>{model}</b> · списано {stars} ⭐",
    Msg.RESULT_TOO_LARGE: (
        "📦 Результат слишком большой для Telegram: "
        '<a href="{url}">скачайте его здесь</a> (ссылка работает около суток).'
    ),
    Msg.BTN_REPEAT: "🔁 Повторить",
    Msg.BTN_EDIT_RERUN: "✏️ Изменить и повторить",
    Msg.BTN_FAVORITE: "⭐ В избранное",
    Msg.BTN_TRY_AGAIN: "🔁 Попробовать снова",
    Msg.TOAST_FAVORITE_SAVED: "⭐ Добавлено в избранное.",
    Msg.TOAST_FAVORITE_EXISTS: "⭐ Уже в избранном.",
    Msg.BTN_FAVORITES: "⭐ Избранное",
    Msg.FAVORITES_TITLE: "⭐ <b>Избранное</b> · стр. {page}/{pages}",
    Msg.FAVORITES_EMPTY: (
        "⭐ В избранном пока пусто. Нажмите «⭐ В избранное» под результатом, чтобы сохранить "
        "модель и настройки и запускать их снова."
    ),
    Msg.FAVORITES_ITEM: "{n}. <b>{model}</b>",
    Msg.FAVORITE_UNAVAILABLE: "⚠️ {reason}",
    Msg.BTN_FAVORITE_RUN: "▶️ {n}",
    Msg.BTN_FAVORITE_DELETE: "🗑 {n}",
    Msg.TOAST_FAVORITE_REMOVED: "🗑 Удалено из избранного.",
    Msg.HISTORY_TITLE: "🕘 <b>Мои генерации</b> · стр. {page}/{pages}",
    Msg.HISTORY_EMPTY: "🕘 Генераций пока нет. Выберите модель в меню.",
    Msg.HISTORY_ITEM: "{n}. {mark} <b>{model}</b> · {stars} ⭐ · {when}",
    Msg.BTN_RESEND: "📤 {n}",
    Msg.BTN_REPEAT_N: "🔁 {n}",
    Msg.TOAST_NOT_AVAILABLE: "Этот результат нельзя отправить повторно.",
    Msg.BALANCE: (
        "💰 <b>Баланс</b>\nДоступно: <b>{available} ⭐</b>\n"
        "Зарезервировано под генерации: {held} ⭐"
    ),
    Msg.BALANCE_DEBT: "Долг после возврата: {debt} ⭐",
    Msg.SETTINGS: "🌐 <b>Настройки</b>\nЯзык: {current}",
    Msg.LANGUAGE_NAME: "русский",
    Msg.BTN_LANG_RU: "🇷🇺 Русский",
    Msg.BTN_LANG_EN: "🇬🇧 English",
    Msg.TOAST_LANGUAGE: "Язык: русский",
    Msg.HELP: (
        "❓ <b>Как это работает</b>\n"
        "1. Выберите в меню, что хотите сделать, затем модель.\n"
        "2. Пройдите несколько коротких шагов: напишите промпт, отправьте фото или нажмите "
        "вариант. ⬅️ Назад возвращает на предыдущий шаг, ✖️ Отмена прекращает настройку.\n"
        "3. Проверьте цену и подтвердите. Звёзды резервируются и списываются, только когда вы "
        "получили результат; неудачный запуск ничего не стоит.\n\n"
        "/start — главное меню\n/balance — баланс звёзд\n/history — мои генерации\n"
        "/promo — ввести промокод\n/referral — пригласить друзей\n"
        "/paysupport — платежи и возвраты\n/settings — язык\n"
        "/privacy — ваши данные: выгрузить или удалить\n"
        "/cancel — отменить текущую настройку"
    ),
    Msg.CANCELLED: "✖️ Отменено. Звёзды не списаны.",
    Msg.NOTHING_TO_CANCEL: "Отменять нечего.",
    Msg.HINT_MENU: "👇 Выберите действие в меню или напишите название модели для поиска.",
    Msg.HINT_EXPECTS: "⚠️ На этом шаге нужно {what}.",
    Msg.WHAT_TEXT: "текстовое сообщение",
    Msg.WHAT_NUMBER: "число",
    Msg.WHAT_CHOICE: "выбрать один из вариантов",
    Msg.WHAT_IMAGE: "фото",
    Msg.WHAT_VIDEO: "видео",
    Msg.WHAT_AUDIO: "аудиофайл",
    Msg.WHAT_ITEMS: "отправить элементы по одному сообщению",
    Msg.ERROR_CODE: "Код: <code>{code}</code>",
    Msg.RATE_LIMITED: (
        "⏳ Слишком много действий подряд. Подождите {seconds} с и попробуйте снова."
    ),
    Msg.CMD_PROMO: "Ввести промокод",
    Msg.CMD_REFERRAL: "Пригласить друзей",
    Msg.BTN_PROMO: "🎟 Промокод",
    Msg.BTN_REFERRAL: "👥 Пригласить друзей",
    Msg.PROMO_ASK: "🎟 Пришлите промокод (или /cancel).",
    Msg.PROMO_REDEEMED: (
        "🎟 Промокод <b>{code}</b> активирован: +{stars} ⭐.\nБаланс: <b>{available} ⭐</b>"
    ),
    Msg.REFERRAL: (
        "👥 <b>Пригласите друзей</b>\nВаша ссылка:\n{link}\n\n"
        "Когда друг, пришедший по ней, сделает первую покупку, вы получите {stars} ⭐.\n"
        "Пришли: {invited} · купили: {rewarded} · вы заработали: {earned} ⭐"
    ),
    Msg.REFERRAL_REWARD: (
        "👥 Приглашённый вами друг сделал первую покупку: +{stars} ⭐ на ваш баланс."
    ),
    Msg.BTN_SUPPORT: "✉️ Написать в поддержку о {n}",
    Msg.TICKET_SENT: (
        "✉️ Ваш запрос о покупке <code>{charge}</code> отправлен в поддержку. "
        "Ответ придёт в этот чат."
    ),
    Msg.TICKET_UNAVAILABLE: ("Связаться с поддержкой через бота сейчас нельзя. Попробуйте позже."),
    Msg.TICKET_FOR_ADMINS: (
        "✉️ <b>Запрос в поддержку</b>\nПользователь: <code>{user_id}</code> {name}\n"
        "Платёж: <code>{charge}</code>\nПокупка: {stars} ⭐ → {credited} ⭐, {state}, {when}\n"
        "Баланс: доступно {available} ⭐, в резерве {held} ⭐, долг {debt} ⭐"
    ),
    Msg.FREE_LEFT: "🎁 Бесплатно сегодня: {left} из {daily} запусков",
    Msg.FREE_USED_UP: (
        "🎁 Сегодняшние бесплатные запуски ({daily}) израсходованы; новые в 00:00 UTC."
    ),
    Msg.CONFIRM_FREE: "🎁 <b>Бесплатный запуск</b> · осталось {left} из {daily} сегодня",
    Msg.BTN_CONFIRM_FREE: "✅ Подтвердить · бесплатно",
    Msg.RESULT_CAPTION_FREE: "<b>{model}</b> · 🎁 бесплатный запуск",
    Msg.RESULT_CAPTION_HELD: "<b>{model}</b> · зарезервировано {held} ⭐, списано {stars} ⭐",
    Msg.FREE_RETURNED: "Не списано: бесплатный запуск вернулся.",
    Msg.BALANCE_FREE: "🎁 Бесплатно сегодня: {left} из {daily} ({models})",
    Msg.PAID_RETURN: "👇 Ваш запуск ждёт подтверждения:",
    Msg.ADMIN_HOME: "🛠 <b>Админка</b>\nСтатистика, пользователи, модели и журнал действий.",
    Msg.BTN_ADMIN_STATS: "📊 Статистика",
    Msg.BTN_ADMIN_USERS: "👤 Пользователи",
    Msg.BTN_ADMIN_MODELS: "🧩 Модели",
    Msg.BTN_ADMIN_AUDIT: "📜 Журнал действий",
    Msg.BTN_ADMIN_HOME: "⬅️ Админка",
    Msg.BTN_PERIOD_TODAY: "Сегодня",
    Msg.BTN_PERIOD_DAYS: "{days} дней",
    Msg.STATS_TITLE: "📊 <b>Статистика</b> · {period} (с {since} UTC)",
    Msg.STATS_PERIOD_TODAY: "сегодня",
    Msg.STATS_PERIOD_DAYS: "{days} дней",
    Msg.STATS_USERS: "👥 Пользователи: {total} · активны сегодня {today} · за 7 дней {week}",
    Msg.STATS_FUNNEL: (
        "🆕 Пришли {started} → генерировали {generated} ({generated_share}) → "
        "заплатили {paid} ({paid_share})"
    ),
    Msg.STATS_RUNS: (
        "🎨 Генерации: {total} · ✅ {succeeded} · ❌ {failed} · ✖️ {cancelled} · ⏳ {live}"
    ),
    Msg.STATS_MONEY: (
        "⭐ Поступило: {stars} ⭐ (платежей: {payments})\n"
        "↩️ Возвраты: платежей {purchase_refunds} ({purchase_stars} ⭐) · "
        "генераций {generation_refunds} ({generation_stars} ⭐)"
    ),
    Msg.STATS_KIE: (
        "💳 Кредиты KIE: израсходовано {consumed} (по прайсу {quoted})\n"
        "💰 Оставлено {kept} ⭐ · себестоимость KIE {cost} ⭐ · маржа {margin} ⭐"
    ),
    Msg.STATS_MODELS: "<b>По моделям</b> (запуски · сбои · p50 / p95 до результата)",
    Msg.STATS_MODEL: "{model}: {total} · {failed} · {p50} / {p95}",
    Msg.STATS_MORE: "… и ещё моделей: {count}",
    Msg.STATS_NO_RUNS: "За этот период генераций нет.",
    Msg.DURATION_S: "{seconds} с",
    Msg.DURATION_M: "{minutes} мин {seconds} с",
    Msg.ADMIN_LOOKUP: "👤 Пришлите Telegram id пользователя или его @username.",
    Msg.ADMIN_LOOKUP_MALFORMED: "⚠️ Это не Telegram id и не @username.",
    Msg.ADMIN_NOT_FOUND: "⚠️ Пользователь <code>{query}</code> боту не писал.",
    Msg.ADMIN_USER: (
        "👤 <b>Пользователь <code>{id}</code></b>{username}\nЯзык: {lang} · "
        "с нами с {joined} · последний визит {seen}"
    ),
    Msg.ADMIN_USER_SEEN: "{day}",
    Msg.ADMIN_USER_NEVER: "—",
    Msg.ADMIN_USER_BANNED: "⛔ <b>Заблокирован</b>",
    Msg.ADMIN_USER_IS_ADMIN: "🛠 Администратор",
    Msg.ADMIN_USER_BALANCE: "💰 Доступно {available} ⭐ · в резерве {held} ⭐ · долг {debt} ⭐",
    Msg.ADMIN_USER_RUNS: "<b>Последние генерации</b>",
    Msg.ADMIN_USER_RUN: "{mark} {model} · {stars} ⭐ · {when} · <code>{id}</code>{reason}",
    Msg.BTN_ADMIN_GRANT: "🎁 Начислить звёзды",
    Msg.BTN_ADMIN_BAN: "⛔ Заблокировать",
    Msg.BTN_ADMIN_UNBAN: "✅ Разблокировать",
    Msg.BTN_ADMIN_OTHER_USER: "🔎 Другой пользователь",
    Msg.ADMIN_GRANT_AMOUNT: (
        "🎁 Сколько звёзд начислить пользователю <code>{id}</code>? Пришлите число от 1 до {max}."
    ),
    Msg.ADMIN_GRANT_BAD_AMOUNT: "⚠️ Пришлите целое число от 1 до {max}.",
    Msg.ADMIN_GRANT_REASON: (
        "🎁 {stars} ⭐ пользователю <code>{id}</code>. За что? Пришлите причину "
        "(она попадёт в журнал действий)."
    ),
    Msg.ADMIN_BAN_REASON: (
        "⛔ Заблокировать пользователя <code>{id}</code>? Пришлите причину "
        "(она попадёт в журнал действий)."
    ),
    Msg.ADMIN_UNBAN_REASON: (
        "✅ Разблокировать пользователя <code>{id}</code>? Пришлите причину "
        "(она попадёт в журнал действий)."
    ),
    Msg.ADMIN_REASON_BAD: "⚠️ Пришлите причину длиной от 1 до {max} символов.",
    Msg.ADMIN_SEND_TEXT: "⚠️ Пришлите это текстовым сообщением.",
    Msg.ADMIN_GRANTED: "✅ Начислено {stars} ⭐.",
    Msg.ADMIN_GRANTED_ALREADY: (
        "Такое начисление (та же сумма и причина) уже было; ничего не изменилось."
    ),
    Msg.ADMIN_BANNED: (
        "⛔ Заблокирован. Пользователь узнает об этом один раз, когда напишет; дальше — тишина."
    ),
    Msg.ADMIN_UNBANNED: "✅ Разблокирован.",
    Msg.ADMIN_BAN_UNCHANGED: "Ничего не изменилось: так уже было.",
    Msg.ADMIN_CANNOT_BAN_ADMIN: "⚠️ Администратора заблокировать нельзя.",
    Msg.ADMIN_MODELS: (
        "🧩 <b>Модели</b> · включено {on}, выключено {off}\n"
        "✅ включена · ⛔ выключена (нажмите, чтобы переключить) · 🚫 не может работать\n"
        "Переключение доходит до всех пользователей за секунды."
    ),
    Msg.BTN_MODEL_ON: "✅ {model}",
    Msg.BTN_MODEL_OFF: "⛔ {model}",
    Msg.BTN_MODEL_BROKEN: "🚫 {model}",
    Msg.TOAST_MODEL_ON: "✅ {model} включена для всех.",
    Msg.TOAST_MODEL_OFF: "⛔ {model} выключена для всех.",
    Msg.ADMIN_AUDIT: "📜 <b>Журнал действий</b>",
    Msg.ADMIN_AUDIT_EMPTY: "Действий операторов пока нет.",
    Msg.ADMIN_AUDIT_ITEM: (
        "<b>{when}</b> · {actor} · {action} <code>{target}</code>{detail}{reason}"
    ),
    Msg.ADMIN_ACTOR: "админ {id}",
    Msg.AUDIT_GRANT: "🎁 начисление пользователю",
    Msg.AUDIT_GENERATION_REFUND: "↩️ возврат за генерацию",
    Msg.AUDIT_PAYMENT_REFUND: "💸 возврат платежа",
    Msg.AUDIT_PROMO_CREATE: "🎟 промокод",
    Msg.AUDIT_BAN: "⛔ блокировка",
    Msg.AUDIT_UNBAN: "✅ разблокировка",
    Msg.AUDIT_MODEL_DISABLE: "⛔ выключена модель",
    Msg.AUDIT_MODEL_ENABLE: "✅ включена модель",
    Msg.AUDIT_BROADCAST: "📣 рассылка",
    Msg.AUDIT_PRICE_OVERRIDE: "🏷 цена модели",
    Msg.DEBUG_USAGE: (
        "🔎 <code>/debug ID</code>: id генерации, корреляции, задачи KIE, апдейта или "
        "пользователя (<code>user:ID</code> или <code>update:ID</code>, если число подходит "
        "под оба)."
    ),
    Msg.DEBUG_NOTHING: "🔎 Для <code>{wanted}</code> ничего не записано.",
    Msg.DEBUG_TITLE: "🔎 <b>{subject}</b> · {kind}",
    Msg.DEBUG_GENERATION: "<code>{generation}</code> · {model} · <b>{state}</b>",
    Msg.DEBUG_IDS: (
        "пользователь <code>{user}</code> · <code>{correlation}</code> · KIE <code>{task}</code>"
    ),
    Msg.DEBUG_DIAGNOSIS: "🩺 <b>{text}</b>",
    Msg.DEBUG_REASON: "Причина: <code>{reason}</code> · политика {remedy}{alert}\n{text}",
    Msg.DEBUG_ALERT: ", оповещает оператора",
    Msg.DEBUG_LEDGER: "Леджер: {moves}",
    Msg.DEBUG_COUNTS: (
        "Вызовов KIE {kie} (с ошибкой {errors}) · запусков задач {runs} · повторов {retries}"
    ),
    Msg.DEBUG_RECENT: "Последние генерации:",
    Msg.DEBUG_ALSO: "Также: {others}",
    Msg.DEBUG_MORE: "… ещё {count} …",
    Msg.BC_ASK_TEXT: (
        "📣 <b>Новая рассылка</b> · шаг 1 из 3\nПришлите сообщение для рассылки. Оформление "
        "(жирный, курсив, ссылки) сохранится; разослать можно только текст. /cancel — отмена."
    ),
    Msg.BC_TEXT_ONLY: "⚠️ Разослать можно только текстовое сообщение. Пришлите текст или /cancel.",
    Msg.BC_ASK_BUTTON: (
        "📣 <b>Новая рассылка</b> · шаг 2 из 3\nДобавить под сообщением кнопку-ссылку? "
        "Пришлите её так: <code>Надпись | https://example.com</code> — или нажмите «Без кнопки»."
    ),
    Msg.BC_BAD_BUTTON: (
        "⚠️ Это не кнопка. Пришлите надпись (до 64 символов), вертикальную черту и ссылку, "
        "начинающуюся с https://, http:// или tg://, например "
        "<code>Магазин | https://example.com</code>."
    ),
    Msg.BTN_BC_NO_BUTTON: "➡️ Без кнопки",
    Msg.BC_AUDIENCE: (
        "📣 <b>Новая рассылка</b> · шаг 3 из 3: кому\n"
        "🌐 Язык: {lang}\n🕒 Активность: {active}\n💳 Покупки: {paid}\n\n"
        "👥 Получателей сейчас: <b>{count}</b>\n"
        "<i>Заблокированные пользователи и те, кто заблокировал бота, не получают рассылок.</i>"
    ),
    Msg.BC_ANY_LANGUAGE: "все",
    Msg.BC_LANGUAGE_RU: "русский",
    Msg.BC_LANGUAGE_EN: "английский",
    Msg.BC_ACTIVE_ANY: "когда угодно",
    Msg.BC_ACTIVE_DAYS: "за последние {days} дн.",
    Msg.BC_PAID_ANY: "все",
    Msg.BC_PAID_YES: "покупали",
    Msg.BC_PAID_NO: "ни разу не покупали",
    Msg.BTN_BC_LANG_ALL: "🌐 Все",
    Msg.BTN_BC_ACTIVE_ANY: "Когда угодно",
    Msg.BTN_BC_ACTIVE_DAYS: "{days} дн.",
    Msg.BTN_BC_PAID_ANY: "Все",
    Msg.BTN_BC_PAID_YES: "Покупали",
    Msg.BTN_BC_PAID_NO: "Не покупали",
    Msg.BTN_BC_CHOSEN: "✅ {label}",
    Msg.BTN_BC_PREVIEW: "👁 Предпросмотр",
    Msg.BC_PREVIEW: (
        "👆 Именно это получат пользователи.\n"
        "👥 Получателей: <b>{count}</b> · {lang} · {active} · {paid}\n"
        "⏱ Отправка займёт около {minutes} мин (не больше {rate} сообщений в секунду).\n"
        "Отправить?"
    ),
    Msg.BC_NOBODY: "👥 Под эти условия никто не подходит: измените их, чтобы отправить.",
    Msg.BTN_BC_SEND: "✅ Отправить {count}",
    Msg.BTN_BC_EDIT: "✏️ Изменить получателей",
    Msg.BC_CANCELLED: "📣 Рассылка отменена: ничего не отправлено.",
    Msg.BC_EXPIRED: "Этот черновик рассылки уже закрыт. Начните заново: /broadcast.",
    Msg.BC_PROGRESS: (
        "📣 <b>Рассылка</b> <code>{id}</code> · идёт отправка\n"
        "{done} из {total} · ✅ отправлено {sent} · 🚫 заблокировали {blocked} · "
        "⚠️ ошибок {failed}"
    ),
    Msg.BTN_BC_STOP: "⏹ Остановить",
    Msg.TOAST_BC_STOPPING: "Останавливаю: больше ничего не отправляется.",
    Msg.BC_DONE: (
        "✅ <b>Рассылка завершена</b> <code>{id}</code>\n"
        "Отправлено: <b>{sent}</b> из {total}\n"
        "Заблокировали бота: {blocked} (больше не получат рассылок)\nОшибок: {failed}"
    ),
    Msg.BC_STOPPED: (
        "⏹ <b>Рассылка остановлена</b> <code>{id}</code>\n"
        "Отправлено: <b>{sent}</b> из {total} · заблокировали: {blocked} · ошибок: {failed}\n"
        "Не отправлено: {pending}"
    ),
    Msg.BC_UNCONFIRMED: (
        "Не подтверждено (Telegram не ответил или отправку прервал перезапуск; повторно не "
        "отправлялись, могли дойти): {count}"
    ),
    Msg.BTN_ADMIN_BROADCAST: "📣 Рассылка",
    Msg.ALERT_CIRCUIT_OPENED: (
        "⚡ <b>Модель отключена</b>: <code>{model}</code>\n"
        "{failures} сбоев KIE за {window} мин ({reason}). Пользователи её больше не видят.\n"
        "Повторная попытка через {retry} мин; переключение в /admin → Модели "
        "отменяет автоматику.\n"
        "<i>{detail}</i>"
    ),
    Msg.ALERT_CIRCUIT_TRIAL: (
        "🔁 <code>{model}</code> снова включена на пробу: сбой KIE в ближайшие {minutes} мин "
        "отключит её снова, уже дольше."
    ),
    Msg.ALERT_CREDITS_LOW: (
        "🪫 <b>Мало кредитов KIE</b>: {credits} (порог предупреждения {threshold}).\n"
        "Пополните аккаунт KIE: при нуле новые генерации приостанавливаются."
    ),
    Msg.ALERT_CREDITS_EXHAUSTED: (
        "⛔ <b>Кредиты KIE закончились</b> ({credits}).\nНовые генерации приостановлены: "
        "пользователям это объясняется, списаний нет. Всё возобновится само, когда на "
        "аккаунте снова будет {threshold} кредитов."
    ),
    Msg.ALERT_CREDITS_RESUMED: (
        "▶️ Кредиты KIE снова есть: {credits}. Новые генерации снова запускаются."
    ),
    Msg.ALERT_CREDITS_RECOVERED: (
        "✅ Кредитов KIE снова больше порога: {credits} (предупреждение ниже {threshold})."
    ),
    Msg.CMD_PRIVACY: "Ваши данные: выгрузить или удалить",
    Msg.BTN_PRIVACY: "🔒 Ваши данные",
    Msg.PRIVACY: (
        "🔒 <b>Ваши данные</b>\n"
        "Что kiebot хранит о вас:\n"
        "• ваш id в Telegram, @username, язык, дату первого визита, кто вас пригласил и "
        "принятые условия;\n"
        "• ваши генерации: модель, запросы и настройки, ссылки на результаты, цену;\n"
        "• ваши платежи и все операции с балансом звёзд;\n"
        "• избранное и место, где вы остановились в настройке.\n"
        "Сейчас хранится: генераций — {generations}, платежей — {payments}, операций с "
        "балансом — {moves}, избранного — {favorites}.\n\n"
        "📦 <b>Выгрузка</b> пришлёт всё это одним JSON-файлом.\n"
        "🗑 <b>Удаление</b> стирает профиль, запросы, результаты, избранное и историю "
        "переписки с ботом. Платежи и операции с балансом сохраняются, как требует закон о "
        "бухгалтерском учёте, но под анонимным номером вместо вашего id."
    ),
    Msg.BTN_EXPORT_DATA: "📦 Выгрузить мои данные",
    Msg.BTN_DELETE_DATA: "🗑 Удалить мои данные",
    Msg.TOAST_EXPORTING: "📦 Готовлю файл…",
    Msg.EXPORT_CAPTION: (
        "📦 Всё, что kiebot хранит о вас: генераций — {generations}, платежей — {payments}, "
        "операций с балансом — {moves}, избранного — {favorites}."
    ),
    Msg.DELETE_CONFIRM: (
        "🗑 <b>Удалить ваши данные?</b>\n"
        "Это нельзя отменить: профиль, запросы и результаты, избранное и история удаляются "
        "навсегда. Платежи и операции с балансом остаются, под анонимным номером.\n"
        "{balance}"
        "Если вы вернётесь, то начнёте как новый пользователь, без повторного приветственного "
        "подарка; использованные промокоды останутся использованными."
    ),
    Msg.DELETE_BALANCE_LOST: "⚠️ Баланс <b>{available} ⭐</b> пропадёт.\n",
    Msg.BTN_DELETE_YES: "🗑 Да, удалить мои данные",
    Msg.DATA_DELETED: (
        "✅ Ваши данные удалены. Платежи и операции с балансом хранятся только под анонимным "
        "номером.\nОтправьте /start, когда захотите начать заново."
    ),
    Msg.AUDIT_CATALOG_SYNC: "📚 каталог моделей",
    Msg.AUDIT_USER_EXPORT: "📦 выгрузка данных",
    Msg.AUDIT_USER_FORGET: "🗑 данные удалены, теперь",
}

CATALOGS: Mapping[Language, Mapping[Msg, str]] = {Language.EN: _EN, Language.RU: _RU}
"""Every UI text in every language (a test checks that none is missing)."""


def placeholders(template: str) -> frozenset[str]:
    """The ``str.format`` field names used in ``template``."""
    return frozenset(name for _, name, _, _ in string.Formatter().parse(template) if name)


def t(language: Language, key: Msg, **values: object) -> str:
    """The text ``key`` in ``language`` with ``values`` filled in (already escaped HTML)."""
    template = CATALOGS[language][key]
    return template.format(**values) if values else template
