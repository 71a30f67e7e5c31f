//! Which column names look like personal data (names, e-mail, phone, national or medical record numbers, addresses, birth dates, free-text notes): the coverage gate's list, by name alone, never by value.

/// Tables whose bare `name` column names a person.
const PEOPLE: [&str; 16] = [
    "patient",
    "person",
    "people",
    "client",
    "customer",
    "employee",
    "staff",
    "user",
    "contact",
    "member",
    "doctor",
    "physician",
    "nurse",
    "relative",
    "guardian",
    "visitor",
];

/// What a column's name says it holds, when it looks like personal data;
/// `table` tells a person's `name` from a setting's.
pub fn looks_personal(table: &str, column: &str) -> Option<&'static str> {
    let name = column.to_ascii_lowercase();
    if name == "name" {
        let table = table.to_ascii_lowercase();
        return PEOPLE.iter().any(|p| table.contains(p)).then_some("name");
    }
    let words: Vec<&str> = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let joined = words.join("_");
    let has = |w: &str| words.contains(&w);
    let has_any = |ws: &[&str]| ws.iter().any(|w| has(w));
    let contains_any = |ps: &[&str]| ps.iter().any(|p| joined.contains(p));
    if contains_any(&["email", "e_mail", "mail_address"]) || has("mail") {
        return Some("e-mail");
    }
    if contains_any(&["phone", "mobile", "telephone", "fax"]) || has_any(&["tel", "gsm"]) {
        return Some("phone number");
    }
    if contains_any(&["birth", "dob"]) || has_any(&["born", "geboortedatum"]) {
        return Some("birth date");
    }
    if contains_any(&[
        "ssn",
        "bsn",
        "national_id",
        "nationalid",
        "social_security",
        "passport",
        "insurance_number",
        "nhs_number",
        "tax_id",
    ]) {
        return Some("national identifier");
    }
    if contains_any(&[
        "mrn",
        "medical_record",
        "patient_number",
        "chart_number",
        "record_number",
    ]) {
        return Some("medical record number");
    }
    if contains_any(&[
        "address",
        "street",
        "postcode",
        "postal",
        "zipcode",
        "house_number",
    ]) || has_any(&["zip", "city", "addr"])
    {
        return Some("address");
    }
    if contains_any(&[
        "first_name",
        "firstname",
        "given_name",
        "last_name",
        "lastname",
        "surname",
        "family_name",
        "full_name",
        "fullname",
        "maiden",
        "initials",
    ]) || (has("name")
        && !has_any(&[
            "table",
            "schema",
            "column",
            "file",
            "host",
            "server",
            "user",
            "login",
            "role",
            "type",
            "kind",
            "status",
            "code",
            "product",
            "company",
            "department",
            "ward",
            "display",
        ]))
    {
        return Some("name");
    }
    if has_any(&[
        "note",
        "notes",
        "comment",
        "comments",
        "remark",
        "remarks",
        "narrative",
        "anamnesis",
        "complaint",
        "diagnosis",
        "free_text",
        "freetext",
        "description",
    ]) || contains_any(&["free_text", "clinical_note"])
    {
        return Some("free text");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::looks_personal;

    #[test]
    fn names_that_say_personal_data_are_found_and_others_are_not() {
        for (column, kind) in [
            ("email", "e-mail"),
            ("contact_email_address", "e-mail"),
            ("mobile_phone", "phone number"),
            ("date_of_birth", "birth date"),
            ("dob", "birth date"),
            ("bsn", "national identifier"),
            ("mrn", "medical record number"),
            ("street", "address"),
            ("postcode", "address"),
            ("first_name", "name"),
            ("surname", "name"),
            ("name", "name"),
            ("patient_name", "name"),
            ("clinical_notes", "free text"),
            ("remarks", "free text"),
        ] {
            assert_eq!(looks_personal("patient", column), Some(kind), "{column}");
        }
        for column in [
            "id",
            "user_name",
            "table_name",
            "status",
            "created_at",
            "amount",
            "login",
            "ward_name",
            "role",
        ] {
            assert_eq!(looks_personal("patient", column), None, "{column}");
        }
    }
}
