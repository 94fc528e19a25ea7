//! The page texts of both languages, in one table so that each English text sits next
//! to its French one.

/// Every page text: (key, English, French). `{name}` marks a value filled in when the
/// page is rendered; keys ending in `.one` / `.other` are the singular and plural forms.
pub const TEXTS: &[(&str, &str, &str)] = &[
    // Layout
    ("skip_to_content", "Skip to the content", "Aller au contenu"),
    ("language", "Language", "Langue"),
    ("footer", "Registration desk: rallypoint", "Accueil des inscriptions : rallypoint"),
    ("contact", "Questions? Write to {email}.", "Des questions ? Écrivez à {email}."),
    // The event and its site visits
    ("site_visits", "Site visits", "Visites de sites"),
    (
        "site_visits_intro.first_come",
        "The site visits run at the same time: rank up to {n} of them. You get a seat in the best-ranked visit that still has room; if none has, you join the waiting list of your first choice.",
        "Les visites ont lieu en même temps : classez-en jusqu'à {n}. Vous obtenez une place dans la visite la mieux classée qui en a encore ; sinon, vous rejoignez la liste d'attente de votre premier choix.",
    ),
    (
        "site_visits_intro.preferences",
        "The site visits run at the same time: rank up to {n} of them. The organisers share the seats out from everyone's choices and email you the result.",
        "Les visites ont lieu en même temps : classez-en jusqu'à {n}. Les organisateurs répartissent les places d'après les choix de chacun et vous envoient le résultat par e-mail.",
    ),
    ("visit_when", "When", "Quand"),
    ("visit_where", "Where", "Où"),
    ("visit_meeting_point", "Meeting point", "Point de rendez-vous"),
    ("seats_left.one", "{n} seat left", "{n} place restante"),
    ("seats_left.other", "{n} seats left", "{n} places restantes"),
    ("visit_full", "Full — waiting list", "Complet — liste d'attente"),
    (
        "event_full",
        "The event is full. You can still register: you join its waiting list and we email you as soon as a place frees up.",
        "L'événement est complet. Vous pouvez encore vous inscrire : vous rejoignez la liste d'attente et nous vous écrivons dès qu'une place se libère.",
    ),
    // Registration form
    ("register", "Register", "Inscription"),
    (
        "required_note",
        "Every field is required unless marked optional.",
        "Tous les champs sont obligatoires, sauf mention « facultatif ».",
    ),
    ("optional", "optional", "facultatif"),
    ("first_name", "First name", "Prénom"),
    ("last_name", "Last name", "Nom"),
    ("email", "Email", "Adresse e-mail"),
    (
        "email_hint",
        "Your confirmation and your personal link are sent here.",
        "Votre confirmation et votre lien personnel y seront envoyés.",
    ),
    ("organisation", "Organisation", "Organisation"),
    ("country", "Country", "Pays"),
    ("country_choose", "Choose a country", "Choisissez un pays"),
    ("job_title", "Job title", "Fonction"),
    ("dietary", "Dietary needs", "Régime alimentaire"),
    (
        "dietary_hint",
        "Allergies, vegetarian, halal… for the lunches.",
        "Allergies, végétarien, halal… pour les repas.",
    ),
    (
        "choices_legend",
        "Site visits, in order of preference",
        "Visites, par ordre de préférence",
    ),
    ("no_choice", "— No choice —", "— Aucun choix —"),
    ("full_suffix", "full — waiting list", "complet — liste d'attente"),
    ("privacy", "Privacy", "Protection des données"),
    (
        "privacy_text",
        "The organisers of {event} use your name, email, organisation, country, job title and dietary needs only to run the event and its site visits: to confirm your place, to email you about it, and to give the hosts of your site visit the list of visitors. Your data are not sold or used for marketing, and are erased after the event.",
        "Les organisateurs de {event} utilisent vos nom, adresse e-mail, organisation, pays, fonction et régime alimentaire uniquement pour l'événement et ses visites : confirmer votre place, vous écrire à ce sujet et remettre aux hôtes de votre visite la liste des visiteurs. Vos données ne sont ni vendues ni utilisées à des fins commerciales, et sont effacées après l'événement.",
    ),
    (
        "privacy_contact",
        "To see, correct or erase them, write to {email}.",
        "Pour les consulter, les corriger ou les effacer, écrivez à {email}.",
    ),
    (
        "consent_label",
        "I agree that my data are used as described above.",
        "J'accepte que mes données soient utilisées comme décrit ci-dessus.",
    ),
    ("submit_register", "Register", "M'inscrire"),
    (
        "errors_heading",
        "Please correct the following:",
        "Veuillez corriger les points suivants :",
    ),
    ("closed_heading", "Registration is closed", "Les inscriptions sont fermées"),
    ("opens_at", "Registration opens on {when}.", "Les inscriptions ouvrent le {when}."),
    ("closes_at", "Registration closes on {when}.", "Les inscriptions ferment le {when}."),
    ("closed_at", "Registration closed on {when}.", "Les inscriptions ont fermé le {when}."),
    // Field errors (see `Lang::field_error`)
    ("error.required", "This field is required.", "Ce champ est obligatoire."),
    (
        "error.email",
        "Enter an email address such as name@example.org.",
        "Saisissez une adresse e-mail, par exemple nom@exemple.org.",
    ),
    ("error.too_long", "Use at most {n} characters.", "Utilisez au plus {n} caractères."),
    (
        "error.control",
        "Remove the special characters.",
        "Retirez les caractères spéciaux.",
    ),
    ("error.country", "Choose a country from the list.", "Choisissez un pays dans la liste."),
    (
        "error.too_many_choices",
        "Choose at most {n} site visits.",
        "Choisissez au plus {n} visites.",
    ),
    (
        "error.unknown_visit",
        "Choose site visits from the list.",
        "Choisissez les visites dans la liste.",
    ),
    (
        "error.ranked_twice",
        "Choose each site visit only once.",
        "Ne choisissez chaque visite qu'une seule fois.",
    ),
    (
        "error.consent",
        "Tick the box to give your consent: we cannot register you without it.",
        "Cochez la case pour donner votre accord : sans lui, nous ne pouvons pas vous inscrire.",
    ),
    (
        "error.duplicate",
        "This email address is already registered for this event. Your confirmation email holds the link to change or cancel that registration.",
        "Cette adresse e-mail est déjà inscrite à cet événement. L'e-mail de confirmation contient le lien pour modifier ou annuler cette inscription.",
    ),
    ("error.other", "This value is not valid.", "Cette valeur n'est pas valable."),
    // Confirmation
    ("registered_title", "Registration confirmed", "Inscription confirmée"),
    (
        "event_waitlisted_title",
        "You are on the waiting list",
        "Vous êtes sur la liste d'attente",
    ),
    (
        "check_email",
        "We are sending a confirmation to {email}. It holds your personal link to view, change or cancel your registration.",
        "Nous envoyons une confirmation à {email}. Elle contient votre lien personnel pour consulter, modifier ou annuler votre inscription.",
    ),
    ("seat_assigned", "Your site visit: {visit}", "Votre visite : {visit}"),
    (
        "seat_waitlisted",
        "Your first choice, {visit}, is full: you are number {n} on its waiting list. We email you the moment a seat is yours.",
        "Votre premier choix, {visit}, est complet : vous êtes n° {n} sur sa liste d'attente. Nous vous écrivons dès qu'une place est à vous.",
    ),
    (
        "seat_pending",
        "Your first choice is {visit}. The organisers share the seats out from everyone's choices and email you the result.",
        "Votre premier choix est {visit}. Les organisateurs répartissent les places d'après les choix de chacun et vous envoient le résultat.",
    ),
    (
        "seat_none",
        "You have not chosen a site visit. You can still rank them with your personal link.",
        "Vous n'avez pas choisi de visite. Vous pouvez encore les classer avec votre lien personnel.",
    ),
    (
        "event_waitlisted",
        "The event is full: you are number {n} on its waiting list. We email you as soon as a place frees up.",
        "L'événement est complet : vous êtes n° {n} sur sa liste d'attente. Nous vous écrivons dès qu'une place se libère.",
    ),
    ("manage_link", "View or change my registration", "Voir ou modifier mon inscription"),
    // Manage page
    ("manage_title", "Your registration", "Votre inscription"),
    (
        "manage_private",
        "This page is personal: do not share its address.",
        "Cette page est personnelle : n'en partagez pas l'adresse.",
    ),
    ("status", "Status:", "Statut :"),
    ("summary_line", "{label}: {message}", "{label} : {message}"),
    ("status.confirmed", "Confirmed", "Confirmée"),
    (
        "status.waitlisted",
        "On the event's waiting list",
        "Sur la liste d'attente de l'événement",
    ),
    ("status.cancelled", "Cancelled", "Annulée"),
    ("your_details", "Your details", "Vos coordonnées"),
    ("full_name", "Name", "Nom et prénom"),
    ("your_site_visit", "Your site visit", "Votre visite"),
    ("your_choices", "Your choices", "Vos choix"),
    ("registered_on", "Registered on", "Date d'inscription"),
    ("no_choices", "No site visit chosen", "Aucune visite choisie"),
    ("change_heading", "Change your choices", "Modifier vos choix"),
    (
        "change_hint",
        "A better-ranked visit with room is yours at once. A visit you take off the list frees your seat in it.",
        "Une visite mieux classée qui a de la place vous est donnée aussitôt. Retirer une visite de la liste libère votre place dans celle-ci.",
    ),
    ("submit_change", "Save my choices", "Enregistrer mes choix"),
    ("cancel_heading", "Cancel your registration", "Annuler votre inscription"),
    ("cancel_button", "Cancel my registration…", "Annuler mon inscription…"),
    (
        "cancel_confirm_title",
        "Cancel your registration?",
        "Annuler votre inscription ?",
    ),
    (
        "cancel_confirm_text",
        "Your registration for {event} will be cancelled, and your seat given to the next person waiting. To come back you would have to register again, after everyone already waiting.",
        "Votre inscription à {event} sera annulée et votre place donnée à la personne suivante sur la liste d'attente. Pour revenir, il faudrait vous réinscrire, après toutes les personnes qui attendent déjà.",
    ),
    ("cancel_confirm_yes", "Yes, cancel my registration", "Oui, annuler mon inscription"),
    ("cancel_confirm_no", "No, keep my registration", "Non, garder mon inscription"),
    (
        "flash.changed",
        "Your choices are saved. We are emailing you a summary.",
        "Vos choix sont enregistrés. Nous vous envoyons un récapitulatif par e-mail.",
    ),
    (
        "flash.cancelled",
        "Your registration is cancelled. We are emailing you a confirmation.",
        "Votre inscription est annulée. Nous vous envoyons une confirmation par e-mail.",
    ),
    (
        "flash.offer_accepted",
        "The seat is yours. We are emailing you a confirmation with a calendar invitation.",
        "La place est à vous. Nous vous envoyons une confirmation par e-mail, avec une invitation pour votre calendrier.",
    ),
    (
        "flash.offer_declined",
        "You declined the seat: it goes to the next person, and the visit has left your choices. We are emailing you a summary.",
        "Vous avez décliné la place : elle passe à la personne suivante, et la visite a été retirée de vos choix. Nous vous envoyons un récapitulatif par e-mail.",
    ),
    // An offer: a seat held for the person until a deadline
    ("offer_heading", "A seat is held for you", "Une place vous est réservée"),
    (
        "offer_text",
        "A seat on {visit} has become free: it is held for you until {deadline}.",
        "Une place s'est libérée pour {visit} : elle vous est réservée jusqu'au {deadline}.",
    ),
    (
        "offer_lapse",
        "If you do nothing by then, the seat goes to the next person waiting and {visit} leaves your choices.",
        "Sans réponse de votre part d'ici là, la place passera à la personne suivante et {visit} sera retirée de vos choix.",
    ),
    (
        "offer_swap",
        "Accepting it gives up your seat on {visit}, which goes to the next person.",
        "L'accepter libère votre place pour {visit}, qui passera à la personne suivante.",
    ),
    ("offer_accept", "Accept the seat", "Accepter la place"),
    ("offer_decline", "Decline it", "La décliner"),
    (
        "offer_gone",
        "This offer is no longer open: it was already answered, or its time ran out. Your registration as it stands now is shown below.",
        "Cette offre n'est plus ouverte : elle a déjà reçu une réponse, ou son délai est passé. Votre inscription telle qu'elle est maintenant est affichée ci-dessous.",
    ),
    (
        "cancelled_note",
        "This registration is cancelled. While registration is open you may register again.",
        "Cette inscription est annulée. Tant que les inscriptions sont ouvertes, vous pouvez vous réinscrire.",
    ),
    ("register_again", "Register again", "Se réinscrire"),
    (
        "change_closed",
        "Registration is closed: your choices can no longer be changed, but you can still cancel.",
        "Les inscriptions sont fermées : vos choix ne peuvent plus être modifiés, mais vous pouvez encore annuler.",
    ),
    // Error pages
    ("error_page.not_found", "Page not found", "Page introuvable"),
    (
        "error_page.not_found_text",
        "This page does not exist, or its address is incomplete. If you came from an email, check that the whole link was copied.",
        "Cette page n'existe pas, ou son adresse est incomplète. Si vous venez d'un e-mail, vérifiez que le lien a été copié en entier.",
    ),
    ("error_page.forbidden", "Form not accepted", "Formulaire refusé"),
    (
        "error_page.forbidden_text",
        "This form could not be accepted: it may be too old, or it was sent from another site. Go back, reload the page and send it again. Cookies must be enabled for this site.",
        "Ce formulaire n'a pas pu être accepté : il est peut-être trop ancien, ou il a été envoyé depuis un autre site. Revenez en arrière, rechargez la page et renvoyez-le. Les cookies doivent être activés pour ce site.",
    ),
    ("error_page.bad_request", "Request not understood", "Requête incomprise"),
    (
        "error_page.bad_request_text",
        "The form could not be read. Go back, reload the page and try again.",
        "Le formulaire n'a pas pu être lu. Revenez en arrière, rechargez la page et réessayez.",
    ),
    ("error_page.busy", "Busy right now", "Service occupé"),
    (
        "error_page.busy_text",
        "Many people are registering at the same moment. Please try again in a few seconds: nothing was saved.",
        "Beaucoup de personnes s'inscrivent en ce moment. Réessayez dans quelques secondes : rien n'a été enregistré.",
    ),
    ("error_page.internal", "Something went wrong", "Une erreur s'est produite"),
    (
        "error_page.internal_text",
        "Something went wrong on our side. Please try again later.",
        "Une erreur s'est produite de notre côté. Veuillez réessayer plus tard.",
    ),
];
