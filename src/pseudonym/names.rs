//! The given names and family names that name pseudonyms are picked from: ASCII letters only, one word each, so that every engine spells, lowercases and matches them alike.

/// Given names, picked by two bytes of the keyed hash.
pub const FIRST: [&str; 96] = [
    "Aaron", "Abel", "Ada", "Adam", "Adrian", "Agnes", "Alan", "Alice", "Amber", "Amir", "Anna",
    "Anton", "Ava", "Bart", "Bea", "Ben", "Bram", "Carla", "Carlos", "Chen", "Chloe", "Clara",
    "Daan", "Dana", "David", "Diana", "Dirk", "Eda", "Elena", "Eli", "Emma", "Eric", "Eva",
    "Fatima", "Felix", "Femke", "Fleur", "Frank", "Gert", "Greta", "Hana", "Hans", "Hugo", "Ida",
    "Ilse", "Iris", "Ivan", "Jade", "Jan", "Jasper", "Jens", "Joost", "Julia", "Karim", "Kees",
    "Lara", "Lars", "Lea", "Lena", "Liam", "Lisa", "Lucas", "Maria", "Mark", "Marta", "Max",
    "Mila", "Nadia", "Nina", "Noah", "Nora", "Olaf", "Omar", "Paul", "Petra", "Pieter", "Rosa",
    "Ruben", "Ruth", "Sam", "Sara", "Sem", "Sofia", "Stijn", "Tara", "Teun", "Thijs", "Tom",
    "Vera", "Victor", "Wim", "Yara", "Yusuf", "Zara", "Zoe", "Ingrid",
];

/// Family names, picked by two other bytes of the keyed hash.
pub const LAST: [&str; 96] = [
    "Adams", "Bakker", "Baker", "Bos", "Brouwer", "Brown", "Clark", "Cohen", "Davis", "Dekker",
    "Dijkstra", "Evans", "Fischer", "Garcia", "Green", "Hall", "Hendriks", "Hill", "Hoekstra",
    "Huisman", "Jacobs", "Jansen", "Johnson", "Jones", "Kaya", "Keller", "King", "Klein", "Kok",
    "Koster", "Kramer", "Kuiper", "Lee", "Lewis", "Lopez", "Martin", "Meijer", "Mertens", "Miller",
    "Moore", "Mulder", "Nguyen", "Nielsen", "Novak", "Olsen", "Peeters", "Perez", "Peters",
    "Petrov", "Postma", "Prins", "Quinn", "Reed", "Roos", "Rossi", "Sanders", "Schmidt", "Scott",
    "Smit", "Smith", "Stone", "Taylor", "Thomas", "Turner", "Vos", "Visser", "Wagner", "Walker",
    "Weber", "White", "Willems", "Wilson", "Wolf", "Wood", "Wright", "Young", "Yilmaz", "Zimmer",
    "Blom", "Boer", "Claes", "Dumont", "Engel", "Faber", "Graaf", "Haas", "Jonker", "Kooi",
    "Lange", "Maas", "Nolan", "Ortiz", "Pauls", "Ruiz", "Sauer", "Timmer",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_name_is_one_ascii_word_and_listed_once() {
        for list in [&FIRST[..], &LAST[..]] {
            let mut seen = std::collections::BTreeSet::new();
            for name in list {
                assert!(name.chars().all(|c| c.is_ascii_alphabetic()), "{name}");
                assert!(name.chars().next().unwrap().is_ascii_uppercase(), "{name}");
                assert!(seen.insert(*name), "{name} twice");
            }
        }
    }
}
