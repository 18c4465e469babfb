//! A row without a required key (`missing field `channel``): the YAML parser reports it at
//! the row's last key, so the diagnostic is moved to the row's first key (its `- name:`
//! line), and a missing `channel` lists the channels the table declares.

/// The 1-based line and column, and the key's length, of the first key of the sequence item
/// whose keys start at `column` (1-based) and include line `line` (1-based), when the item is
/// one (`- name: ...`).
pub(super) fn item_start(text: &str, line: usize, column: usize) -> Option<(usize, usize, usize)> {
    let key = column.checked_sub(1)?;
    for (index, content) in text
        .lines()
        .enumerate()
        .take(line)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
    {
        let trimmed = content.trim_start_matches(' ');
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indentation = content.len() - trimmed.len();
        if let Some(item) = trimmed.strip_prefix("- ") {
            let item_key = content.len() - item.trim_start_matches(' ').len();
            if item_key == key {
                let len = item
                    .trim_start_matches(' ')
                    .chars()
                    .take_while(|c| *c != ':')
                    .count();
                return Some((index + 1, key + 1, len.max(1)));
            }
        }
        if indentation < key {
            return None;
        }
    }
    None
}

/// The keys of the top-level `channels:` mapping, in order (block style only).
pub(super) fn declared_channels(text: &str) -> Vec<String> {
    let mut lines = text
        .lines()
        .skip_while(|l| l.trim_end() != "channels:")
        .skip(1);
    let mut keys = Vec::new();
    let mut depth = None;
    for line in lines.by_ref() {
        let trimmed = line.trim_start_matches(' ');
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indentation = line.len() - trimmed.len();
        if indentation == 0 {
            break;
        }
        if *depth.get_or_insert(indentation) == indentation
            && let Some((key, _)) = trimmed.split_once(':')
        {
            keys.push(key.trim().to_owned());
        }
    }
    keys
}
