// Written to match migrations/{sqlite,postgres}; `diesel print-schema` against either
// database gives the same tables (types are the ones both backends share).
diesel::table! {
    events (id) {
        id -> Text,
        slug -> Text,
        name -> Text,
        description -> Text,
        venue -> Text,
        contact_email -> Text,
        timezone -> Text,
        starts_on -> Date,
        ends_on -> Date,
        assignment_mode -> Text,
        registration_opens_at -> Nullable<Timestamp>,
        registration_closes_at -> Nullable<Timestamp>,
        max_preferences -> Integer,
        capacity -> Nullable<Integer>,
        confirmed -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        allocated_at -> Nullable<Timestamp>,
        /// Offers on (hours a freed seat is held for the next person); NULL: off.
        offer_window_hours -> Nullable<Integer>,
        /// No offer runs past this many hours before its visit starts.
        offer_cutoff_hours -> Integer,
        /// Minutes after a visit's start after which people not checked in on its list
        /// are no-shows (migration `2024-11-16-000000_checkin`).
        no_show_after_minutes -> Integer,
        reminder_hours -> Text,
        /// Until when answers to questions may change; NULL: the first visit's start
        /// (migration `2024-11-22-000000_questions`, docs/questions.md).
        answers_close_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// An event's registration questions (docs/questions.md).
    questions (event_id, id) {
        event_id -> Text,
        id -> Text,
        column_order -> Integer,
        position -> Integer,
        kind -> Text,
        required -> Bool,
        label_en -> Text,
        label_fr -> Text,
        help_en -> Text,
        help_fr -> Text,
        choices -> Text,
        site_visits -> Text,
        min_value -> Nullable<Text>,
        max_value -> Nullable<Text>,
        max_length -> Nullable<Integer>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// A person's answers (personal data: erased with the person).
    answers (registration_id, question_id) {
        registration_id -> Text,
        question_id -> Text,
        event_id -> Text,
        value -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    site_visits (id) {
        id -> Text,
        event_id -> Text,
        slug -> Text,
        name -> Text,
        description -> Text,
        location -> Text,
        meeting_point -> Text,
        starts_at -> Timestamp,
        ends_at -> Timestamp,
        capacity -> Integer,
        assigned -> Integer,
        frozen -> Bool,
        position -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        bring -> Text,
        identity -> Text,
    }
}

diesel::table! {
    /// Identity data per visit, sealed (docs/identity-data.md): never in clear.
    identity_data (registration_id, site_visit_id) {
        registration_id -> Text,
        site_visit_id -> Text,
        ciphertext -> Binary,
        nonce -> Binary,
        key_id -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    reminders_sent (registration_id, site_visit_id, hours_before) {
        registration_id -> Text,
        site_visit_id -> Text,
        hours_before -> Integer,
        event_id -> Text,
        sent_at -> Timestamp,
    }
}

diesel::table! {
    registrations (id) {
        id -> Text,
        event_id -> Text,
        first_name -> Text,
        last_name -> Text,
        email -> Text,
        email_normalized -> Text,
        organisation -> Text,
        country -> Text,
        job_title -> Nullable<Text>,
        dietary -> Nullable<Text>,
        status -> Text,
        manage_token_hash -> Text,
        consent_at -> Timestamp,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        cancelled_at -> Nullable<Timestamp>,
        /// Automatic seat changes apply (off once an organiser placed the person by hand).
        auto_seat -> Bool,
        language -> Text,
        erased_at -> Nullable<Timestamp>,
        /// Names, organisation and email folded for search (`domain::search::fold`).
        search_text -> Text,
        /// SHA-256 of the check-in code (`access::hash_secret`); NULL once erased.
        checkin_code_hash -> Nullable<Text>,
    }
}

diesel::table! {
    registration_preferences (registration_id, rank) {
        registration_id -> Text,
        rank -> Integer,
        site_visit_id -> Text,
    }
}

diesel::table! {
    seat_assignments (registration_id) {
        registration_id -> Text,
        site_visit_id -> Text,
        assigned_at -> Timestamp,
    }
}

diesel::table! {
    /// Maintained by database triggers (migration `2024-11-07-000000_counts`); read only.
    registration_counts (event_id, country, site_visit_id, shard) {
        event_id -> Text,
        country -> Text,
        /// '' for the country's own row.
        site_visit_id -> Text,
        registered -> BigInt,
        assigned -> BigInt,
        waitlisted -> BigInt,
        /// Part of the key on PostgreSQL (a registration's rows go to one of eight);
        /// always 0 on SQLite. Readers sum the shards.
        shard -> Integer,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Text,
        name -> Text,
        role -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        /// NULL: never (migration `2024-11-14-000000_token_expiry_sessions`).
        expires_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Organiser-board sessions, by the SHA-256 of the secret their cookie carries
    /// (migration `2024-11-14-000000_token_expiry_sessions`).
    board_sessions (secret_hash) {
        secret_hash -> Text,
        token_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    outbox_emails (id) {
        id -> Text,
        event_id -> Text,
        registration_id -> Nullable<Text>,
        kind -> Text,
        recipient -> Text,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_by -> Nullable<Text>,
        locked_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        message_id -> Nullable<Text>,
    }
}

diesel::table! {
    messages (id) {
        id -> Text,
        event_id -> Text,
        audience -> Text,
        subject_en -> Text,
        subject_fr -> Text,
        body_en -> Text,
        body_fr -> Text,
        recipients -> Integer,
        sent_by -> Text,
        sent_by_name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    service_keys (name) {
        name -> Text,
        secret -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        event_id -> Nullable<Text>,
        actor -> Text,
        action -> Text,
        subject -> Nullable<Text>,
        before -> Nullable<Text>,
        after -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (idempotency_key, scope) {
        idempotency_key -> Text,
        scope -> Text,
        request_hash -> Text,
        status -> Integer,
        response -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// A view: who waits for which visit, defined once in migrations/*/2024-11-09-000000_waitlist.
    visit_waitlist (site_visit_id, registration_id) {
        site_visit_id -> Text,
        registration_id -> Text,
        event_id -> Text,
        country -> Text,
        created_at -> Timestamp,
        /// Holds a seat ranked lower (served after everyone who holds none).
        upgrading -> Bool,
    }
}

diesel::table! {
    /// A view: the upgrading branch of `visit_waitlist` (people holding a seat they
    /// ranked lower than this visit), migrations/*/2024-11-20-000000_upgrades_view.
    visit_upgrades (site_visit_id, registration_id) {
        site_visit_id -> Text,
        registration_id -> Text,
        event_id -> Text,
        country -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// SQLite only (migration `2024-11-11-000000_counts_pending`): registrations whose
    /// unit of work has not yet counted them; deleting a row counts it.
    registration_counts_pending (registration_id) {
        registration_id -> Text,
    }
}

diesel::table! {
    /// A stored waitlist: one per site visit and one per event (its id), migration
    /// `2024-11-10-000000_waitlist_queue`; written only by `store::queues`.
    waitlist_queues (id) {
        id -> Text,
        /// The last place given (places are 1, 2, 3…).
        tail -> BigInt,
        /// How many still wait.
        length -> BigInt,
        /// No place below it is still in the queue (where the head is looked for).
        head -> BigInt,
    }
}

diesel::table! {
    waitlist_entries (queue_id, place) {
        queue_id -> Text,
        place -> BigInt,
        registration_id -> Text,
    }
}

diesel::table! {
    /// Departures from a queue, as a Fenwick tree over places (see `store::queues`).
    waitlist_departures (queue_id, node) {
        queue_id -> Text,
        node -> BigInt,
        departed -> BigInt,
    }
}

diesel::table! {
    /// Open offers only (migration `2024-11-12-000000_seat_offers`): a seat held for a
    /// person until they accept it or the offer ends. One per person.
    seat_offers (registration_id) {
        registration_id -> Text,
        event_id -> Text,
        site_visit_id -> Text,
        offered_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    /// Who is checked in on which list (migration `2024-11-16-000000_checkin`): one row
    /// per person and list; `site_visit_id` is '' for the entrance list.
    checkins (registration_id, site_visit_id) {
        registration_id -> Text,
        site_visit_id -> Text,
        event_id -> Text,
        /// The earliest scan in.
        checked_in_at -> Timestamp,
        scan_id -> Text,
        device -> Text,
        inside -> Bool,
        /// When `inside` last changed (the scan's time).
        moved_at -> Timestamp,
    }
}

diesel::table! {
    /// Every scan, whatever its outcome; a nonce once per event.
    checkin_scans (id) {
        id -> Text,
        event_id -> Text,
        nonce -> Text,
        registration_id -> Nullable<Text>,
        site_visit_id -> Text,
        direction -> Text,
        outcome -> Text,
        scanned_by -> Text,
        scanned_by_name -> Text,
        device -> Text,
        scanned_at -> Timestamp,
        received_at -> Timestamp,
    }
}

diesel::table! {
    /// Endpoints that receive signed webhooks (migration `2024-11-17-000000_webhooks`).
    webhook_endpoints (id) {
        id -> Text,
        url -> Text,
        /// NULL: every event.
        event_id -> Nullable<Text>,
        /// Payloads name the person.
        personal_data -> Bool,
        /// Derives the signing secret with the service's key; never the secret itself.
        secret_salt -> Text,
        previous_secret_salt -> Nullable<Text>,
        previous_secret_until -> Nullable<Timestamp>,
        status -> Text,
        disabled_reason -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// The event types an endpoint receives ('*': all).
    webhook_subscriptions (endpoint_id, event_type) {
        endpoint_id -> Text,
        event_type -> Text,
    }
}

diesel::table! {
    /// One row per (endpoint, message): the webhook outbox and delivery log.
    webhook_deliveries (seq) {
        /// Commit order (SQLite's rowid, PostgreSQL's identity); written by the database.
        seq -> BigInt,
        /// The message id (`webhook-id`), shared by the endpoints it goes to.
        id -> Text,
        endpoint_id -> Text,
        event_type -> Text,
        event_id -> Nullable<Text>,
        registration_id -> Nullable<Text>,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_by -> Nullable<Text>,
        locked_until -> Nullable<Timestamp>,
        /// The HTTP status of the last attempt that got an answer.
        response_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(site_visits -> events (event_id));
diesel::joinable!(questions -> events (event_id));
diesel::joinable!(answers -> registrations (registration_id));
diesel::joinable!(checkins -> registrations (registration_id));
diesel::joinable!(board_sessions -> api_tokens (token_id));
diesel::joinable!(seat_offers -> registrations (registration_id));
diesel::joinable!(seat_offers -> site_visits (site_visit_id));
diesel::joinable!(visit_waitlist -> registrations (registration_id));
diesel::joinable!(waitlist_entries -> registrations (registration_id));
diesel::joinable!(audit_log -> events (event_id));
diesel::joinable!(outbox_emails -> events (event_id));
diesel::joinable!(messages -> events (event_id));
diesel::joinable!(outbox_emails -> registrations (registration_id));
diesel::joinable!(registrations -> events (event_id));
diesel::joinable!(registration_preferences -> registrations (registration_id));
diesel::joinable!(registration_preferences -> site_visits (site_visit_id));
diesel::joinable!(seat_assignments -> registrations (registration_id));
diesel::joinable!(seat_assignments -> site_visits (site_visit_id));
diesel::joinable!(webhook_subscriptions -> webhook_endpoints (endpoint_id));
diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));

diesel::allow_tables_to_appear_in_same_query!(
    events,
    site_visits,
    registrations,
    registration_preferences,
    seat_assignments,
    registration_counts,
    api_tokens,
    board_sessions,
    outbox_emails,
    service_keys,
    audit_log,
    idempotency_keys,
    visit_waitlist,
    visit_upgrades,
    waitlist_queues,
    waitlist_entries,
    waitlist_departures,
    seat_offers,
    checkins,
    checkin_scans,
    messages,
    reminders_sent,
    webhook_endpoints,
    webhook_subscriptions,
    webhook_deliveries,
    questions,
    answers,
    identity_data,
);

// Counts by country and visit group seats by the holder's country.
diesel::allow_columns_to_appear_in_same_group_by_clause!(
    registrations::country,
    seat_assignments::site_visit_id
);
