//! The words `vault init` looks for in table and column names: what acceptance owns (accounts, credentials, settings, ...), what may hold personal data (e-mail, phone, names, ...), and which tables look clinical.

/// What acceptance owns, as a table or column name may say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Owned {
    Accounts,
    Credentials,
    Roles,
    Settings,
    SecondFactor,
    Tokens,
    PortalTrial,
}

impl Owned {
    pub const ALL: [Owned; 7] = [
        Owned::Accounts,
        Owned::Credentials,
        Owned::Roles,
        Owned::Settings,
        Owned::SecondFactor,
        Owned::Tokens,
        Owned::PortalTrial,
    ];

    /// What the category is, for the comment beside a proposal.
    pub fn label(self) -> &'static str {
        match self {
            Owned::Accounts => "accounts",
            Owned::Credentials => "credentials",
            Owned::Roles => "roles and permissions",
            Owned::Settings => "settings",
            Owned::SecondFactor => "two-factor enrollment",
            Owned::Tokens => "tokens and API keys",
            Owned::PortalTrial => "portal or trial setup",
        }
    }

    /// The words of a table name that put a table in the category.
    fn table_words(self) -> &'static [&'static str] {
        match self {
            Owned::Accounts => &[
                "user",
                "users",
                "account",
                "login",
                "logon",
                "staff",
                "member",
                "operator",
                "employee",
                "principal",
                "username",
            ],
            Owned::Credentials => &[
                "password",
                "passwd",
                "credential",
                "pwd",
                "secret",
                "auth",
                "authentication",
            ],
            Owned::Roles => &[
                "role",
                "grant",
                "permission",
                "privilege",
                "authority",
                "authorities",
                "acl",
                "right",
                "user_group",
            ],
            Owned::Settings => &[
                "setting",
                "config",
                "configuration",
                "parameter",
                "param",
                "preference",
                "property",
                "properties",
                "option",
            ],
            Owned::SecondFactor => &[
                "2fa",
                "mfa",
                "totp",
                "otp",
                "hotp",
                "webauthn",
                "u2f",
                "fido",
                "authenticator",
                "two_factor",
                "second_factor",
                "recovery_code",
            ],
            Owned::Tokens => &[
                "token",
                "api_key",
                "apikey",
                "oauth",
                "client_secret",
                "session",
            ],
            Owned::PortalTrial => &["portal", "trial"],
        }
    }

    /// The words of a column name that put its table in the category: only
    /// columns that say much (a `password`, not a `name`).
    fn column_words(self) -> &'static [&'static str] {
        match self {
            Owned::Accounts => &["username", "user_name", "login", "login_name"],
            Owned::Credentials => &[
                "password",
                "passwd",
                "password_hash",
                "pwd",
                "pwd_hash",
                "salt",
            ],
            Owned::SecondFactor => &[
                "totp",
                "totp_secret",
                "otp_secret",
                "mfa",
                "mfa_secret",
                "webauthn",
                "two_factor",
                "recovery_code",
            ],
            Owned::Tokens => &["api_key", "apikey", "access_token", "refresh_token"],
            Owned::Roles | Owned::Settings | Owned::PortalTrial => &[],
        }
    }
}

/// Personal data a column's name suggests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Personal {
    Email,
    Phone,
    PersonName,
    RecordNumber,
    Address,
    BirthDate,
    Notes,
}

impl Personal {
    pub const ALL: [Personal; 7] = [
        Personal::Email,
        Personal::Phone,
        Personal::PersonName,
        Personal::RecordNumber,
        Personal::Address,
        Personal::BirthDate,
        Personal::Notes,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Personal::Email => "e-mail",
            Personal::Phone => "phone",
            Personal::PersonName => "name",
            Personal::RecordNumber => "national or medical record number",
            Personal::Address => "address",
            Personal::BirthDate => "birth date",
            Personal::Notes => "free-text notes",
        }
    }

    fn column_words(self) -> &'static [&'static str] {
        match self {
            Personal::Email => &["email", "e_mail", "mail", "email_address"],
            Personal::Phone => &[
                "phone",
                "telephone",
                "tel",
                "mobile",
                "cell",
                "fax",
                "phone_number",
            ],
            Personal::PersonName => &[
                "first_name",
                "last_name",
                "firstname",
                "lastname",
                "surname",
                "given_name",
                "family_name",
                "full_name",
                "fullname",
                "middle_name",
                "maiden_name",
                "patient_name",
                "initials",
            ],
            Personal::RecordNumber => &[
                "ssn",
                "bsn",
                "nhs_number",
                "national_id",
                "national_number",
                "social_security",
                "insurance_number",
                "passport",
                "mrn",
                "medical_record",
                "patient_number",
                "chart_number",
                "health_card",
            ],
            Personal::Address => &[
                "address",
                "address1",
                "address2",
                "street",
                "postal_code",
                "postcode",
                "zip",
                "zipcode",
                "zip_code",
                "house_number",
            ],
            Personal::BirthDate => &["birth", "dob", "birthdate", "birthday", "date_of_birth"],
            Personal::Notes => &[
                "note",
                "notes",
                "comment",
                "comments",
                "remark",
                "remarks",
                "narrative",
                "memo",
                "free_text",
                "anamnesis",
            ],
        }
    }
}

/// Words of a table name that make its dates a candidate for a cut-off.
const CLINICAL: &[&str] = &[
    "patient",
    "assessment",
    "encounter",
    "visit",
    "admission",
    "diagnosis",
    "treatment",
    "prescription",
    "medication",
    "lab",
    "observation",
    "appointment",
    "episode",
    "clinical",
    "medical",
    "consult",
    "consultation",
    "referral",
    "document",
    "report",
    "case",
];

/// Words of a table name that make its `name` column a person's name.
const PERSON_TABLES: &[&str] = &[
    "patient",
    "person",
    "customer",
    "client",
    "contact",
    "staff",
    "employee",
    "user",
    "member",
    "doctor",
    "physician",
    "nurse",
];

/// A name cut into lower-case words at `_`, `-`, spaces, digits-to-letters
/// and camelCase: `userTOTPSecret` -> `_user_totp_secret_`.
fn words_of(name: &str) -> String {
    let mut out = String::from("_");
    let mut previous: Option<char> = None;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            if !out.ends_with('_') {
                out.push('_');
            }
            previous = None;
            continue;
        }
        if let Some(p) = previous
            && p.is_lowercase()
            && c.is_uppercase()
            && !out.ends_with('_')
        {
            out.push('_');
        }
        out.extend(c.to_lowercase());
        previous = Some(c);
    }
    if !out.ends_with('_') {
        out.push('_');
    }
    out
}

/// The first of `words` that `name` holds as whole words (or their plural).
fn first_match(name: &str, words: &[&'static str]) -> Option<&'static str> {
    let cut = words_of(name);
    words.iter().copied().find(|word| {
        let plain = format!("_{word}_");
        let plural = format!("_{word}s_");
        cut.contains(&plain) || cut.contains(&plural)
    })
}

/// The categories a table's own name puts it in, each with the word that matched.
pub fn owned_by_table_name(table: &str) -> Vec<(Owned, &'static str)> {
    Owned::ALL
        .into_iter()
        .filter_map(|o| first_match(table, o.table_words()).map(|w| (o, w)))
        .collect()
}

/// The category a column's name puts its table in, with the word that matched.
pub fn owned_by_column_name(column: &str) -> Option<(Owned, &'static str)> {
    Owned::ALL
        .into_iter()
        .find_map(|o| first_match(column, o.column_words()).map(|w| (o, w)))
}

/// The personal data a column's name suggests, with the word that matched.
/// A bare `name` is a person's name only in a table of people.
pub fn personal_by_column_name(table: &str, column: &str) -> Option<(Personal, &'static str)> {
    if let Some(found) = Personal::ALL
        .into_iter()
        .find_map(|p| first_match(column, p.column_words()).map(|w| (p, w)))
    {
        return Some(found);
    }
    (words_of(column) == "_name_" && first_match(table, PERSON_TABLES).is_some())
        .then_some((Personal::PersonName, "name"))
}

/// The clinical word a table's name holds, if any.
pub fn clinical_word(table: &str) -> Option<&'static str> {
    first_match(table, CLINICAL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cut_into_words() {
        assert_eq!(words_of("userTOTPSecret"), "_user_totpsecret_");
        assert_eq!(words_of("app_user"), "_app_user_");
        assert_eq!(words_of("Staff"), "_staff_");
        assert_eq!(words_of("user-2fa codes"), "_user_2fa_codes_");
    }

    #[test]
    fn whole_words_match_and_parts_of_words_do_not() {
        assert_eq!(
            owned_by_table_name("app_users"),
            vec![(Owned::Accounts, "user")]
        );
        assert!(owned_by_table_name("controller").is_empty());
        assert!(owned_by_table_name("film_category").is_empty());
        assert_eq!(
            owned_by_column_name("password_hash"),
            Some((Owned::Credentials, "password"))
        );
        assert_eq!(owned_by_column_name("first_name"), None);
        assert_eq!(
            personal_by_column_name("customer", "email"),
            Some((Personal::Email, "email"))
        );
        assert_eq!(
            personal_by_column_name("customer", "name"),
            Some((Personal::PersonName, "name"))
        );
        assert_eq!(personal_by_column_name("category", "name"), None);
        assert_eq!(clinical_word("assessments"), Some("assessment"));
        assert_eq!(clinical_word("film"), None);
    }
}
