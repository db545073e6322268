import { createContext, type ComponentChildren } from 'preact';
import { useContext, useMemo, useState } from 'preact/hooks';
import { en, type MessageKey, type Messages } from './en.ts';
import { ko } from './ko.ts';

/**
 * Korean and English. The language is the one the user picked (kept in localStorage), else the
 * browser's first of the two, else English. Every visible string comes from `t(key, values)`.
 */

export const LOCALES = { en: { name: 'English', messages: en }, ko: { name: '한국어', messages: ko } } as const;
export type Locale = keyof typeof LOCALES;

const LOCALE_KEY = 'plaza.locale';

export type Translate = (key: MessageKey, values?: Record<string, string | number>) => string;
type I18n = { locale: Locale; t: Translate; setLocale: (locale: Locale) => void };

const I18nContext = createContext<I18n | null>(null);

export function I18nProvider({ children }: { children: ComponentChildren }) {
  const [locale, setLocaleState] = useState<Locale>(initialLocale);
  const value = useMemo<I18n>(() => {
    document.documentElement.lang = locale;
    return {
      locale,
      t: translator(LOCALES[locale].messages),
      setLocale: (next) => {
        localStorage.setItem(LOCALE_KEY, next);
        setLocaleState(next);
      },
    };
  }, [locale]);
  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function useI18n(): I18n {
  const i18n = useContext(I18nContext);
  if (i18n === null) throw new Error('useI18n outside I18nProvider');
  return i18n;
}

function translator(messages: Messages): Translate {
  return (key, values) => messages[key].replace(/\{(\w+)\}/g, (whole, name: string) => String(values?.[name] ?? whole));
}

function initialLocale(): Locale {
  const chosen = localStorage.getItem(LOCALE_KEY);
  if (isLocale(chosen)) return chosen;
  const fromBrowser = navigator.languages.map((tag) => tag.split('-')[0]).find(isLocale);
  return fromBrowser ?? 'en';
}

function isLocale(value: string | null | undefined): value is Locale {
  return value === 'en' || value === 'ko';
}
