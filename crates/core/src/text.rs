//! Text folding for search: what "case-insensitive" means for names in every language.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The form names are stored and searched in: lowercase, accents and other combining marks
/// removed, `đ` read as `d`, runs of whitespace as one space. "Nguyễn Văn Đức", "nguyen van duc"
/// and "NGUYỄN VĂN ĐỨC" all fold to `nguyen van duc`.
pub fn search_key(text: &str) -> String {
    let folded: String = text
        .nfd()
        .filter(|c| !is_combining_mark(*c))
        .map(|c| match c {
            'đ' | 'Đ' => 'd',
            other => other,
        })
        .flat_map(char::to_lowercase)
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::search_key;

    #[test]
    fn folds_case_accents_and_spacing() {
        assert_eq!(search_key("Nguyễn Văn  Đức"), "nguyen van duc");
        assert_eq!(search_key("DỰ ÁN Ánh Dương"), "du an anh duong");
        assert_eq!(search_key("Straße ÉCOLE"), "straße ecole");
        assert_eq!(search_key("张三"), "张三");
        assert_eq!(search_key("Солнышко"), "солнышко");
    }
}
