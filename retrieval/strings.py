"""Every sentence Khabar says to a user in Arabic, Persian or English, side by side.

For a translator: each entry below is a key (what the program asks for) and the same sentence in
each language. Edit the text inside the quotes; keep every ``{name}`` exactly as it is (the
program fills it in; ``{size:.1f}`` is a number with one decimal) and the invisible direction
marks around commands such as /ask, which keep them left-to-right in a right-to-left line.
To add a language, add its code to ``LANGS`` and a line for it to every entry;
``tests/test_strings.py`` fails until every entry has one with the same placeholders as the
others. A user whose language is not here reads English.

Why a table in Python rather than gettext catalogues: there is no build step (no ``.po`` to
compile into ``.mo``), the three languages of a sentence sit next to each other so a translator
sees what the others say, and the test above guards completeness, which gettext would not.

This module imports nothing from Khabar, so the engine and every front end can use it.
"""

from __future__ import annotations

LANGS = ("ar", "fa", "en")

STRINGS: dict[str, dict[str, str]] = {
    "help": {
        "en": ("I answer questions about {docs} news articles ({langs}; newest from {latest}).\n"
               "Just send a question in Arabic, Persian or English. In groups, mention me or use "
               "/ask <question>.\nFollow-up questions continue the conversation; /new starts "
               "a new one.\n/sources lists the articles.\n/follow <words> sends you new articles "
               "on a story as they arrive; /timeline <words> shows how it unfolded."),
        "ar": ("أجيب عن أسئلة حول {docs} مقالاً إخبارياً ({langs}؛ أحدثها بتاريخ {latest}).\n"
               "أرسل سؤالك بالعربية أو الفارسية أو الإنجليزية. في المجموعات، اذكرني أو استخدم "
               "‎/ask‎ مع السؤال.\nالأسئلة اللاحقة تكمل المحادثة؛ ‎/new‎ يبدأ محادثة جديدة.\n"
               "‎/sources‎ يعرض قائمة المقالات.\n‎/follow‎ مع كلمات يرسل لك المقالات الجديدة عن قصة "
               "فور وصولها؛ و‎/timeline‎ مع كلمات يعرض تسلسل أحداثها."),
        "fa": ("به پرسش‌ها درباره {docs} مقاله خبری پاسخ می‌دهم ({langs}؛ تازه‌ترین: {latest}).\n"
               "پرسش خود را به فارسی، عربی یا انگلیسی بفرستید. در گروه‌ها مرا نام ببرید یا از "
               "‎/ask‎ استفاده کنید.\nپرسش‌های بعدی گفتگو را ادامه می‌دهند؛ ‎/new‎ گفتگوی تازه‌ای "
               "آغاز می‌کند.\n‎/sources‎ فهرست مقاله‌ها را نشان می‌دهد.\n‎/follow‎ با چند کلمه "
               "مقاله‌های تازه یک ماجرا را به محض رسیدن می‌فرستد؛ ‎/timeline‎ با چند کلمه سیر "
               "رویدادهای آن را نشان می‌دهد."),
    },
    "also_in": {"en": "also in", "ar": "وأيضاً في", "fa": "همچنین در"},
    "new": {
        "en": "New conversation: I will read your next question on its own.",
        "ar": "محادثة جديدة: سأقرأ سؤالك التالي مستقلاً.",
        "fa": "گفتگوی تازه: پرسش بعدی شما را مستقل می‌خوانم.",
    },
    "non_text": {
        "en": "I can only read text. Please type your question.",
        "ar": "أستطيع قراءة النصوص فقط. اكتب سؤالك من فضلك.",
        "fa": "فقط می‌توانم متن بخوانم. لطفاً پرسش خود را بنویسید.",
    },
    # "empty" and "too_long" are named after the checks ``QuestionError.check`` reports.
    "empty": {
        "en": "Please send a question, e.g. /ask Who signed the treaty?",
        "ar": "أرسل سؤالاً، مثلاً: ‎/ask‎ من وقع المعاهدة؟",
        "fa": "یک پرسش بفرستید، مثلاً: ‎/ask‎ چه کسی پیمان را امضا کرد؟",
    },
    "too_long": {
        "en": ("Your question is {length} characters long; the limit is {limit}. "
               "Please ask it shorter."),
        "ar": "سؤالك طوله {length} حرفاً والحد الأقصى {limit}. اختصره من فضلك.",
        "fa": "پرسش شما {length} نویسه است و حداکثر {limit} است. لطفاً کوتاه‌ترش کنید.",
    },
    "denied": {
        "en": "Sorry, this bot is private. Your user id is {uid}: send it to an admin for access.",
        "ar": "عذراً، هذا البوت خاص. رقم المستخدم الخاص بك هو {uid}: أرسله إلى المسؤول.",
        "fa": "متأسفم، این ربات خصوصی است. شناسه کاربری شما {uid} است؛ آن را برای مدیر بفرستید.",
    },
    "your_id": {
        "en": "Your Telegram user id is {uid}.",
        "ar": "رقم المستخدم الخاص بك في تيليغرام هو {uid}.",
        "fa": "شناسه کاربری تلگرام شما {uid} است.",
    },
    "rate": {
        "en": "You are asking too fast. Please try again in {s} seconds.",
        "ar": "أنت ترسل الأسئلة بسرعة كبيرة. حاول مجدداً بعد {s} ثانية.",
        "fa": "خیلی سریع می‌پرسید. لطفاً {s} ثانیه دیگر دوباره امتحان کنید.",
    },
    "admin_only": {
        "en": "Sorry, only admins can do that.",
        "ar": "عذراً، هذا الأمر للمسؤولين فقط.",
        "fa": "متأسفم، این فرمان فقط برای مدیران است.",
    },
    "error": {
        "en": "Something went wrong while answering. Please try again.",
        "ar": "حدث خطأ أثناء الإجابة. حاول مرة أخرى من فضلك.",
        "fa": "هنگام پاسخ‌دادن خطایی رخ داد. لطفاً دوباره امتحان کنید.",
    },
    "writing": {
        "en": "Writing the answer…",
        "ar": "جارٍ كتابة الإجابة…",
        "fa": "در حال نوشتن پاسخ…",
    },
    "add_admin_only": {
        "en": "Only admins can add articles. Send me a question about the news instead.",
        "ar": "إضافة المقالات للمسؤولين فقط. أرسل لي سؤالاً عن الأخبار بدلاً من ذلك.",
        "fa": "فقط مدیران می‌توانند مقاله اضافه کنند. به‌جای آن درباره خبرها از من بپرسید.",
    },
    "added": {"en": "Added", "ar": "أُضيف", "fa": "افزوده شد"},
    "unchanged": {"en": "Already indexed", "ar": "موجود في الفهرس", "fa": "از قبل در نمایه"},
    "not_added": {"en": "Not added", "ar": "لم يُضف", "fa": "افزوده نشد"},
    "passages": {"en": "{n} passages", "ar": "{n} مقاطع", "fa": "{n} بخش"},
    "too_big": {
        "en": "{name} is {size:.1f} MB; I can add files up to {limit:.0f} MB.",
        "ar": "حجم {name} ‏{size:.1f} ميغابايت؛ أستطيع إضافة ملفات حتى {limit:.0f} ميغابايت.",
        "fa": "حجم {name} ‏{size:.1f} مگابایت است؛ فایل‌ها تا {limit:.0f} مگابایت افزوده می‌شوند.",
    },
    "download_failed": {
        "en": "I could not download {name} from Telegram ({error}).",
        "ar": "لم أستطع تنزيل {name} من تيليغرام ({error}).",
        "fa": "نتوانستم {name} را از تلگرام دریافت کنم ({error}).",
    },
    "no_feeds": {
        "en": "No feeds are followed: set KHABAR_FEEDS and restart the bot.",
        "ar": "لا توجد خلاصات متابعة: اضبط KHABAR_FEEDS وأعد تشغيل البوت.",
        "fa": "هیچ خوراکی دنبال نمی‌شود: KHABAR_FEEDS را تنظیم و ربات را دوباره راه‌اندازی کنید.",
    },
    "gone": {
        "en": "That passage is no longer in the index (the articles were updated).",
        "ar": "هذا المقطع لم يعد في الفهرس (تم تحديث المقالات).",
        "fa": "این بخش دیگر در نمایه نیست (مقاله‌ها به‌روز شده‌اند).",
    },
    "sources_heading": {"en": "Sources", "ar": "المصادر", "fa": "منابع"},
    "read_as": {"en": "Read as", "ar": "فُهم السؤال على أنه", "fa": "برداشت از پرسش"},
    "not_found": {
        "ar": "لا تغطي المقالات المفهرسة هذا السؤال. أقرب ما وُجد:",
        "fa": "مقاله‌های نمایه‌شده به این پرسش نمی‌پردازند. نزدیک‌ترین موارد:",
        "en": "The indexed articles do not cover this question. Closest passages:",
    },
    # Said to "test", "?", "null" or an emoji: there is nothing to look up.
    "nothing_to_ask": {
        "ar": "لم أجد في رسالتك سؤالاً عن الأخبار. اسأل عن شيء في المقالات، مثلاً: من وقّع المعاهدة؟",
        "fa": "در پیام شما پرسشی درباره خبرها نیافتم. درباره چیزی در مقاله‌ها بپرسید، مثلاً: چه کسی "
              "پیمان را امضا کرد؟",
        "en": "There is no question about the news in that. Ask about something in the articles, "
              "e.g. \"Who signed the treaty?\"",
    },
    # A when-question's answer states the dates it implies: "Date: 2024-06-19 («today», in an
    # article of 2024-06-19)".
    "date_label": {"en": "Date", "ar": "التاريخ", "fa": "تاریخ"},
    "date_context": {"en": "in an article of", "ar": "في مقال بتاريخ", "fa": "در مقاله‌ای به تاریخ"},
    # Following stories (/follow, /following, /unfollow, /digest, /timeline). The keys named
    # follow_<check> are ``FollowError.check``'s: duplicate, limit, unknown, time, zone.
    "follow_usage": {
        "en": ("Send /follow and a few words about a story (or a question) to get new articles on "
               "it as they arrive, e.g. /follow Russia North Korea treaty"),
        "ar": ("أرسل ‎/follow‎ مع كلمات قليلة عن قصة (أو سؤالاً) لتصلك المقالات الجديدة عنها "
               "فور وصولها، مثلاً: ‎/follow‎ معاهدة روسيا وكوريا الشمالية"),
        "fa": ("‎/follow‎ را با چند کلمه درباره یک ماجرا (یا یک پرسش) بفرستید تا مقاله‌های تازه "
               "درباره آن به محض رسیدن برایتان بیاید، مثلاً: ‎/follow‎ پیمان روسیه و کره شمالی"),
    },
    "followed": {
        "en": ("Following #{id}: {topic}\nNew articles on it will come here as they are "
               "indexed. /following lists your topics; /unfollow {id} stops this one."),
        "ar": ("تتم متابعة #{id}: {topic}\nستصلك هنا المقالات الجديدة عنها فور فهرستها. "
               "‎/following‎ يعرض مواضيعك؛ ‎/unfollow‎ {id} يوقف هذا الموضوع."),
        "fa": ("دنبال‌کردن #{id}: {topic}\nمقاله‌های تازه درباره آن به محض نمایه‌شدن همین‌جا "
               "می‌آید. ‎/following‎ موضوع‌های شما را نشان می‌دهد؛ ‎/unfollow‎ {id} این یکی را "
               "متوقف می‌کند."),
    },
    "follow_duplicate": {
        "en": "You already follow this (#{id}).",
        "ar": "أنت تتابع هذا الموضوع بالفعل (#{id}).",
        "fa": "این موضوع را از قبل دنبال می‌کنید (#{id}).",
    },
    "follow_limit": {
        "en": "You follow {limit} topics, the most allowed. /unfollow one first.",
        "ar": "أنت تتابع {limit} موضوعاً، وهو الحد الأقصى. ألغِ متابعة أحدها أولاً بـ ‎/unfollow‎.",
        "fa": ("{limit} موضوع را دنبال می‌کنید که بیشترین حد است. اول یکی را با ‎/unfollow‎ کنار "
               "بگذارید."),
    },
    "topic_too_long": {
        "en": "This topic is {length} characters long; the limit is {limit}. Please shorten it.",
        "ar": "طول هذا الموضوع {length} حرفاً والحد الأقصى {limit}. اختصره من فضلك.",
        "fa": "این موضوع {length} نویسه است و حداکثر {limit} است. لطفاً کوتاه‌ترش کنید.",
    },
    "following": {
        "en": "You follow:",
        "ar": "المواضيع التي تتابعها:",
        "fa": "موضوع‌هایی که دنبال می‌کنید:",
    },
    "following_none": {
        "en": "You follow no stories yet. /follow and a few words starts one.",
        "ar": "لا تتابع أي قصة بعد. ‎/follow‎ مع كلمات قليلة يبدأ المتابعة.",
        "fa": "هنوز هیچ ماجرایی را دنبال نمی‌کنید. ‎/follow‎ با چند کلمه آن را آغاز می‌کند.",
    },
    "digest_at": {
        "en": "Daily digest at {at} ({tz}).",
        "ar": "الملخص اليومي في الساعة {at} ({tz}).",
        "fa": "خلاصه روزانه ساعت {at} ({tz}).",
    },
    "unfollow_usage": {
        "en": "Send /unfollow and a topic's number from /following, or its words.",
        "ar": "أرسل ‎/unfollow‎ مع رقم الموضوع من ‎/following‎ أو كلماته.",
        "fa": "‎/unfollow‎ را با شماره موضوع از ‎/following‎ یا کلمات آن بفرستید.",
    },
    "unfollowed": {
        "en": "Stopped following #{id}: {topic}",
        "ar": "أُلغيت متابعة #{id}: {topic}",
        "fa": "دنبال‌کردن #{id} متوقف شد: {topic}",
    },
    "follow_unknown": {
        "en": "You follow no topic “{which}”. /following lists them.",
        "ar": "لا تتابع موضوعاً باسم «{which}». ‎/following‎ يعرض مواضيعك.",
        "fa": "موضوعی به نام «{which}» را دنبال نمی‌کنید. ‎/following‎ فهرست آن‌ها را نشان می‌دهد.",
    },
    "follow_time": {
        "en": "“{value}” is not a time of day: write it as HH:MM, e.g. 08:30.",
        "ar": "«{value}» ليس وقتاً من اليوم: اكتبه بالشكل HH:MM، مثلاً 08:30.",
        "fa": "«{value}» ساعتی از روز نیست: آن را به شکل HH:MM بنویسید، مثلاً 08:30.",
    },
    "follow_zone": {
        "en": "“{value}” is not a time zone: use a name such as Asia/Tehran, Asia/Riyadh or UTC.",
        "ar": "«{value}» ليس منطقة زمنية: استخدم اسماً مثل Asia/Riyadh أو Asia/Tehran أو UTC.",
        "fa": ("«{value}» منطقه زمانی نیست: نامی مانند Asia/Tehran یا Asia/Riyadh یا UTC به کار "
               "ببرید."),
    },
    "digest_usage": {
        "en": ("/digest daily HH:MM [Area/City] sends the new stories of your topics once a day at "
               "that time, e.g. /digest daily 08:30 Asia/Tehran; /digest off stops it."),
        "ar": ("‎/digest daily HH:MM [Area/City]‎ يرسل القصص الجديدة لمواضيعك مرة يومياً في ذلك "
               "الوقت، مثلاً ‎/digest daily 08:30 Asia/Riyadh‎؛ و‎/digest off‎ يوقفه."),
        "fa": ("‎/digest daily HH:MM [Area/City]‎ ماجراهای تازه موضوع‌های شما را روزی یک بار در آن "
               "ساعت می‌فرستد، مثلاً ‎/digest daily 08:30 Asia/Tehran‎؛ ‎/digest off‎ آن را "
               "متوقف می‌کند."),
    },
    "digest_set": {
        "en": "Daily digest at {at} ({tz}): the new stories of your topics, on days that have any.",
        "ar": ("الملخص اليومي في الساعة {at} ({tz}): القصص الجديدة لمواضيعك، في الأيام التي فيها "
               "جديد."),
        "fa": ("خلاصه روزانه ساعت {at} ({tz}): ماجراهای تازه موضوع‌های شما، در روزهایی که خبر "
               "تازه‌ای هست."),
    },
    "digest_utc": {
        "en": ("No time zone was given, so that is UTC; add yours to change it: /digest daily "
               "{at} Asia/Tehran"),
        "ar": ("لم تُحدَّد منطقة زمنية، لذا الوقت بتوقيت UTC؛ أضف منطقتك لتغييره: ‎/digest daily‎ "
               "{at} Asia/Riyadh"),
        "fa": ("منطقه زمانی داده نشد، پس این ساعت به وقت UTC است؛ برای تغییر، منطقه خود را "
               "بیفزایید: ‎/digest daily‎ {at} Asia/Tehran"),
    },
    "digest_off": {
        "en": "Daily digest stopped.",
        "ar": "تم إيقاف الملخص اليومي.",
        "fa": "خلاصه روزانه متوقف شد.",
    },
    "digest_none": {
        "en": "There was no daily digest to stop.",
        "ar": "لم يكن هناك ملخص يومي لإيقافه.",
        "fa": "خلاصه روزانه‌ای برای توقف وجود نداشت.",
    },
    "digest_heading": {
        "en": "Daily digest, {day}",
        "ar": "الملخص اليومي، {day}",
        "fa": "خلاصه روزانه، {day}",
    },
    "alert_heading": {
        "en": "New on a story you follow",
        "ar": "جديد في قصة تتابعها",
        "fa": "تازه در ماجرایی که دنبال می‌کنید",
    },
    "follow_button": {
        "en": "🔔 Follow this story",
        "ar": "🔔 تابع هذه القصة",
        "fa": "🔔 این ماجرا را دنبال کن",
    },
    "follow_forgotten": {
        "en": ("I no longer know that answer's question (the bot has restarted since). Send "
               "/follow and its words."),
        "ar": ("لم أعد أعرف سؤال تلك الإجابة (أُعيد تشغيل البوت منذ ذلك الحين). أرسل ‎/follow‎ مع "
               "كلماته."),
        "fa": ("دیگر پرسش آن پاسخ را نمی‌دانم (ربات از آن زمان دوباره راه‌اندازی شده). ‎/follow‎ را "
               "با کلمات آن بفرستید."),
    },
    "timeline_usage": {
        "en": "Send /timeline and a story's words, e.g. /timeline Russia North Korea treaty",
        "ar": "أرسل ‎/timeline‎ مع كلمات القصة، مثلاً: ‎/timeline‎ معاهدة روسيا وكوريا الشمالية",
        "fa": "‎/timeline‎ را با کلمات ماجرا بفرستید، مثلاً: ‎/timeline‎ پیمان روسیه و کره شمالی",
    },
    "timeline_heading": {
        "en": "Timeline: {topic}",
        "ar": "التسلسل الزمني: {topic}",
        "fa": "سیر رویدادها: {topic}",
    },
    "timeline_empty": {
        "en": "I found no dated articles on “{topic}”.",
        "ar": "لم أجد مقالات مؤرخة عن «{topic}».",
        "fa": "مقاله تاریخ‌داری درباره «{topic}» نیافتم.",
    },
    "timeline_undated": {
        "en": "{n} more articles without a date are left out.",
        "ar": "استُبعدت {n} مقالات أخرى بلا تاريخ.",
        "fa": "{n} مقاله دیگر بدون تاریخ کنار گذاشته شد.",
    },
}


def say(key: str, lang: str, **values: object) -> str:
    """The sentence ``key`` in ``lang`` (English when it has none), its placeholders filled."""
    entry = STRINGS[key]
    return entry.get(lang, entry["en"]).format(**values)


def ui_lang(code: str | None) -> str:
    """A language tag (Telegram's ``language_code``, e.g. ``fa-IR``) as one of ``LANGS``."""
    base = (code or "en").split("-")[0].lower()
    return base if base in LANGS else "en"
