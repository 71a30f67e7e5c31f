//! Argon2id for passphrase slots (SPEC.md section 4), in working memory that is wiped when the derivation ends.

use zeroize::Zeroizing;

use crate::keys::{KEY_LEN, KdfParams};

/// Argon2's blocks for one derivation. Every block is a function of the
/// passphrase and the last ones give the key, so they are wiped on drop like
/// the key itself. `argon2`'s own `hash_password_into` frees its blocks
/// unwiped, even with its `zeroize` feature (which wipes only its small
/// temporaries and makes [`argon2::Block`] wipeable); hence this memory of our own.
pub(crate) type WorkingMemory = Zeroizing<Vec<argon2::Block>>;

/// The key-encryption key of a passphrase slot. The caller checks the
/// bounds of `kdf` first (SPEC.md section 4): this allocates `m_cost_kib` KiB.
pub(crate) fn derive_kek(
    kdf: &KdfParams,
    passphrase: &[u8],
    salt: &[u8],
) -> Result<Zeroizing<[u8; KEY_LEN]>, argon2::Error> {
    let params = argon2::Params::new(kdf.m_cost_kib, kdf.t_cost, kdf.parallelism, Some(KEY_LEN))?;
    let mut memory: WorkingMemory =
        Zeroizing::new(vec![argon2::Block::default(); params.block_count()]);
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut kek = Zeroizing::new([0u8; KEY_LEN]);
    argon.hash_password_into_with_memory(passphrase, salt, kek.as_mut(), memory.as_mut_slice())?;
    Ok(kek)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}

    #[test]
    fn the_working_memory_is_wiped_on_drop() {
        // Holds only with the `zeroize` feature of `argon2` (workspace
        // Cargo.toml): without it `argon2::Block` cannot be wiped and this
        // module does not compile.
        wiped_on_drop::<WorkingMemory>();
    }

    #[test]
    fn the_key_is_the_one_argon2_derives_in_its_own_memory() {
        let kdf = KdfParams {
            t_cost: 2,
            m_cost_kib: 256,
            parallelism: 2,
        };
        let (passphrase, salt) = (b"correct horse battery staple", [7u8; 16]);
        let params =
            argon2::Params::new(kdf.m_cost_kib, kdf.t_cost, kdf.parallelism, Some(KEY_LEN))
                .unwrap();
        let mut expected = [0u8; KEY_LEN];
        argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password_into(passphrase, &salt, &mut expected)
            .unwrap();
        assert_eq!(*derive_kek(&kdf, passphrase, &salt).unwrap(), expected);
    }
}
