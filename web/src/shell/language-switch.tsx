import { useI18n, LOCALES, type Locale } from '../i18n/i18n.tsx';

/** A labelled select of the two languages; the choice is kept for the next visit. */
export function LanguageSwitch() {
  const { locale, setLocale, t } = useI18n();
  return (
    <label class="language-switch">
      <span>{t('language.label')}</span>
      <select value={locale} onChange={(event) => setLocale(event.currentTarget.value as Locale)}>
        {Object.entries(LOCALES).map(([code, { name }]) => (
          <option key={code} value={code} lang={code}>
            {name}
          </option>
        ))}
      </select>
    </label>
  );
}
