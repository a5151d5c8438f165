import { languageText } from '../src/format';

describe('the language chip of a question', () => {
  it('names R, JavaScript and C, and shows nothing for Python', () => {
    expect(languageText('r')).toBe('R');
    expect(languageText('javascript')).toBe('JavaScript');
    expect(languageText('c')).toBe('C');
    expect(languageText('python')).toBeNull();
    expect(languageText(undefined)).toBeNull();
    expect(languageText(null)).toBeNull();
    expect(languageText('')).toBeNull();
  });

  it('shows a language it does not know by its name', () => {
    expect(languageText('julia')).toBe('julia');
  });
});
